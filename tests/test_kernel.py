"""The optional compiled kernel (`fast` extra, ``NUMBDX_KERNEL=numba``) against the numpy path, which
the engine tests check against brute force, pgmpy and pyAgrum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import numbdx
from numbdx import _kernel

from .strategies import evidence

pytest.importorskip("numba", reason="the compiled kernel needs the `fast` extra (numba)")

MODEL = numbdx.load_model()


def _both(monkeypatch: pytest.MonkeyPatch, ev: dict) -> tuple[numbdx.Differential, numbdx.Differential, int]:
    calls = []
    original = _kernel.eliminate

    def spy(*args: object) -> np.ndarray:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(_kernel, "eliminate", spy)
    monkeypatch.delenv(_kernel.ENV, raising=False)
    plain = numbdx.infer(ev, model=MODEL)
    assert not calls  # not asked for: the numpy path
    monkeypatch.setenv(_kernel.ENV, "numba")
    MODEL.__dict__.pop("_prior_cache", None)  # recompute the prior too
    compiled = numbdx.infer(ev, model=MODEL)
    return plain, compiled, len(calls)


@settings(max_examples=25)
@given(evidence(MODEL, max_findings=6, chief=None))
def test_the_kernel_agrees_with_the_numpy_path(ev):
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            plain, compiled, calls = _both(monkeypatch, ev)
        except numbdx.ImpossibleEvidenceError:
            return
    assert calls >= 1
    for c in plain:
        assert compiled[c.name].posterior == pytest.approx(c.posterior, abs=1e-12)
        assert compiled[c.name].explains == pytest.approx(c.explains, abs=1e-12)
        assert compiled[c.name].prior == pytest.approx(c.prior, abs=1e-12)
    assert compiled.triage.level == plain.triage.level


def test_without_numba_the_numpy_path_answers(monkeypatch):
    monkeypatch.setenv(_kernel.ENV, "numba")
    monkeypatch.setattr(_kernel, "available", lambda: False)
    monkeypatch.setattr(_kernel, "eliminate", lambda *a: pytest.fail("the kernel ran without numba"))
    MODEL.__dict__.pop("_prior_cache", None)
    d = numbdx.infer({"age": 50, "tingling": True}, model=MODEL)
    assert d.method == "exact"


def test_frames_never_use_it(monkeypatch):
    monkeypatch.setenv(_kernel.ENV, "numba")
    monkeypatch.setattr(_kernel, "eliminate", lambda *a: pytest.fail("infer_frame must stay on the shared numpy path"))
    import pandas as pd

    numbdx.infer_frame(pd.DataFrame([{"age": 40, "tingling": True}, {"age": 60}]), model=MODEL)


def test_the_kernel_takes_several_rows_like_the_numpy_path():
    """Tables of one row or of every row (several patients with different contexts in one batch)."""
    from numbdx import _engine
    from numbdx._evidence import normalise

    rows = [{"age": 30, "sex": "female", "tingling": True}, {"age": 70, "sex": "male", "tingling": True}]
    codes = _engine.codes_from_evidence(MODEL, [normalise(MODEL, ev) for ev in rows])
    compiled = _engine._compile(MODEL)
    plan, priors, causes = _engine._factors(MODEL, compiled, codes.upper, np.float64)
    side = int(codes.side[0])
    coef, absent, present, active = _engine._group_terms(MODEL, compiled, codes.findings, side, np.float64)
    expected = _engine._eliminate_numpy(plan, priors, causes, absent, present, active, np.float64)
    got = _kernel.eliminate(plan, priors, causes, absent, present, active)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert coef.shape[0] == 2
