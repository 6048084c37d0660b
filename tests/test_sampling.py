"""Importance sampling past the exact limit: checked against the exact engine, which is itself
checked against brute force, pgmpy and pyAgrum (tests/test_engine.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbdx
from numbdx import _choice_elimination, _engine
from numbdx._engine import AUTO_EXACT_POSITIVES, AUTO_EXACT_POSITIVES_KERNEL
from numbdx._evidence import normalise
from numbdx._sampling import MAX_BOUND, METHOD

from .conftest import TWENTY
from .strategies import many_positives

# A patient with more positive findings than exact inference answers: 21 positives, past Quickscore's
# MAX_TERMS and past the elimination over the findings' choices' limits (a table of 1,048,576 entries).
CROWDED = {
    "age": 60,
    "sex": "female",
    "smoking": True,
    **dict.fromkeys(
        [
            "tingling",
            "aching_pain",
            "back_pain",
            "pain_worse_walking",
            "numb_toes",
            "swelling",
            "weakness",
            "difficulty_walking",
            "cramps_convulsions",
            "heaviness",
            "burning",
            "coldness",
            "severe_pain",
            "chronic_fatigue",
            "numb_foot_sole",
            "numb_hands",
            "only_at_night",
            "numb_heel",
            "after_exertion",
            "after_long_position",
            "triggered_by_cold_or_stress",
        ],
        True,
    ),
}


@settings(max_examples=6)
@given(many_positives(min_positives=5, max_positives=9))
def test_sampling_is_within_its_bound_of_the_exact_answer(evidence):
    exact = numbdx.infer(evidence, method="exact")
    sampled = numbdx.infer(evidence, method="sampling")
    assert sampled.method == METHOD
    assert 0 < sampled.error_bound <= MAX_BOUND
    for name in numbdx.load_model().cause_names:
        assert abs(sampled[name].posterior - exact[name].posterior) <= sampled.error_bound, name
        assert abs(sampled[name].explains - exact[name].explains) <= sampled.error_bound, name
        assert sampled[name].prior == exact[name].prior  # the prior is always exact


def test_the_same_evidence_gets_the_same_numbers():
    first = numbdx.infer(CROWDED)
    second = numbdx.infer(dict(reversed(list(CROWDED.items()))))
    assert first.method == METHOD
    assert first == second


def test_past_the_exact_limit_auto_samples_and_exact_refuses():
    model = numbdx.load_model()
    compiled = _engine._compile(model)
    codes = _engine.codes_from_evidence(model, [normalise(model, CROWDED)])
    counted = _engine._expanding_positives(compiled, codes.findings)[0]
    assert counted > max(AUTO_EXACT_POSITIVES, AUTO_EXACT_POSITIVES_KERNEL)
    assert _engine.row_terms(compiled, codes.findings[0], int(codes.side[0])) > _engine.MAX_TERMS
    problem = _choice_elimination._problem(model, codes.upper[0], codes.findings[0], int(codes.side[0]), "absolute")
    plan = _choice_elimination._order([f.scope for f in problem.factors], problem.cards)
    assert _choice_elimination._refusal(plan) is not None
    d = numbdx.infer(CROWDED)
    assert d.method == METHOD
    assert 0 < d.error_bound <= MAX_BOUND
    assert "importance_sampling" in repr(d) and "importance_sampling" in d._repr_html_()
    with pytest.raises(numbdx.InferenceLimitError, match=r"over the findings' choices needs (a table|work) of"):
        numbdx.infer(CROWDED, method="exact")


def test_without_positive_findings_sampling_is_exact():
    evidence = {"age": 40, "swelling": False}
    assert numbdx.infer(evidence, method="sampling") == numbdx.infer(evidence)


def test_frame_rows_past_the_limit_match_infer_and_say_how():
    frame = pd.DataFrame([CROWDED, {"age": 30, "tingling": True}])
    out = numbdx.infer_frame(frame, details=True)
    assert list(out["method"]) == [METHOD, "exact"]
    for row, evidence in enumerate([CROWDED, {"age": 30, "tingling": True}]):
        d = numbdx.infer(evidence)
        assert out["error_bound"].iloc[row] == pytest.approx(d.error_bound, rel=1e-3)
        expected = [d[c].explains for c in out.columns[:-2]]
        np.testing.assert_allclose(out.iloc[row, :-2].to_numpy(float), expected, rtol=0, atol=1e-9)
    exact_only = numbdx.infer_frame(frame, method="exact", errors="nan", details=True)
    assert exact_only.iloc[0, :-2].isna().all() and exact_only["method"].iloc[0] is None
    assert exact_only["method"].iloc[1] == "exact"


@pytest.mark.parametrize("bad", ["fast", "", None, 3])
def test_an_unknown_method_is_refused(bad):
    with pytest.raises(ValueError, match="method must be one of"):
        numbdx.infer({"age": 40}, method=bad)


@given(st.sampled_from(["auto", "exact", "sampling"]))
def test_method_is_reported(method):
    d = numbdx.infer({"tingling": True}, method=method)
    assert d.method == ("exact" if method != "sampling" else METHOD)


def test_the_proposal_keeps_the_leak_apart_from_the_first_cause():
    """The engine takes "fired through the leak" and "through the first cause" as one term; the
    sampler's proposal keeps them two choices, each naming the cause it needs, so that a cause already
    required by an earlier positive is not discounted again. On twenty positives (the benchmarks' k
    sweep, answered exactly by default since the elimination over the findings' choices, so sampled on
    request here) the seeded draws then reach a bound of 0.022; with the engine's merged choices they
    stopped at 0.040 (measured at 4ffeabd)."""
    evidence = TWENTY
    d = numbdx.infer(evidence, method="sampling")
    assert d.method == METHOD
    assert d.error_bound <= 0.03
