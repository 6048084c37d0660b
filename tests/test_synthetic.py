"""The synthetic models ``benchmarks/bench_scaling.py`` times: they must stay models that ``infer``
answers. (The triage rules added a check the synthetic red-flag copies failed, and the scaling
benchmark printed ``PriorsError`` in every cell for a session before anyone saw it.) Building and one
answer per variant only: the benchmark itself never runs in the suite."""

from __future__ import annotations

import numpy as np
import pytest

import numbdx

from .conftest import benchmark_module


@pytest.fixture(scope="module")
def synthetic():
    return benchmark_module("_synthetic")


@pytest.mark.parametrize("or_factors", ["template", "drawn"])
def test_a_scaled_model_builds_and_answers(synthetic, or_factors):
    real = numbdx.load_model()
    kb = synthetic.scaled_knowledge_base(real.knowledge, 2, seed=3, or_factors=or_factors)
    model = numbdx.Model(kb)
    assert len(model.causes) == 2 * len(real.causes) - 1  # other_cause stays the one leak
    d = numbdx.infer({"age": 58, "sex": "female", "diabetes": True, "numb_toes": True, "tingling": True}, model=model)
    values = np.array([[c.posterior, c.explains] for c in d.causes])
    assert np.all((values >= 0) & (values <= 1)) and d.triage is not None
    assert not any(c.red_flag for c in model.causes if c.name.startswith("syn"))


def test_the_1x_copy_is_the_real_model(synthetic):
    real = numbdx.load_model()
    copy = numbdx.Model(synthetic.scaled_knowledge_base(real.knowledge, 1))
    evidence = {"age": 40, "numb_heel": True, "swelling": True}
    a, b = numbdx.infer(evidence, model=real), numbdx.infer(evidence, model=copy)
    assert [c.name for c in a.causes] == [c.name for c in b.causes]
    assert max(abs(a[c].explains - b[c].explains) for c in real.cause_names) == 0.0
