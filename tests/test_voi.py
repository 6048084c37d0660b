"""Value of information (numbdx._voi): properties, and agreement with independent computations.

The reference values are computed here from first principles: brute-force enumeration of a sub-model
(``tests/_oracle.py``), or the exact engine asked once per (question, answer); nothing is copied from
the code under test.
"""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import numbdx
from numbdx import ImpossibleEvidenceError
from numbdx._engine import codes_from_evidence, infer_codes
from numbdx._evidence import normalise
from numbdx._model import CHIEF_COMPLAINT, Model
from numbdx._priors import TEST_TIERS
from numbdx._voi import (
    CRITERIA,
    AnswerOutcome,
    NextQuestions,
    QuestionValue,
    _Base,
    _Outcomes,
    _values,
    _Variable,
    next_questions,
    recommend_tests,
    value_of_information,
)

from ._oracle import brute_force
from .strategies import SUBMODEL_CAUSES, evidence

MODEL = numbdx.load_model()
SUBMODELS = [MODEL.submodel(causes) for causes in SUBMODEL_CAUSES]
# No cause produces these (they have no parents): given the leg numbness, only their leak can turn them
# on, so no answer to them can move any cause.
PARENTLESS = [f.name for f in MODEL.findings if not f.parents]


def _values_or_skip(ev: dict[str, Any], model: Model = MODEL, **kwargs: Any) -> dict[str, QuestionValue]:
    try:
        return value_of_information(ev, model=model, **kwargs)
    except ImpossibleEvidenceError:
        assume(False)
        raise


# --- an independent reference ---------------------------------------------------------------------


def _answers(model: Model, name: str) -> list[Any]:
    """Every answer to ``name`` as an evidence value, read from the model (age: one age per band)."""
    if name == "age":
        return list(model.knowledge.age_lower_bounds)
    if name in model.upper_index:
        var = model.upper[model.upper_index[name]]
        return list(var.states) if name == "sex" else [True, False]
    f = model.findings[model.finding_index[name]]
    return [True, False] if f.kind == "binary" else list(f.states)


def _loss(p: float, criterion: str) -> float:
    if criterion == "misclassification":
        return min(p, 1 - p)
    return 0.0 if p <= 0 or p >= 1 else -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def _uncertainty(posterior: np.ndarray, explains: np.ndarray, chief: bool, criterion: str) -> float:
    q = explains if chief else posterior
    return sum(_loss(float(x), criterion) for x in q)


def _reference(model: Model, ev: dict[str, Any], name: str, criterion: str, score) -> tuple[float, list[float]]:
    """VOI of ``name`` and P(each answer | ev), with ``score(model, evidence) -> (post, expl, P(e))``."""
    chief = ev.get(CHIEF_COMPLAINT, True)
    post, expl, total = score(model, ev)
    u0 = _uncertainty(post, expl, chief, criterion)
    expected, probabilities = 0.0, []
    for value in _answers(model, name):
        try:
            post_x, expl_x, total_x = score(model, {**ev, name: value})
        except ImpossibleEvidenceError:
            probabilities.append(0.0)
            continue
        p = total_x / total
        probabilities.append(p)
        if p > 0:
            expected += p * _uncertainty(post_x, expl_x, chief, criterion)
    return u0 - expected, probabilities


def _brute(model: Model, ev: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float]:
    post, expl, total = brute_force(model, normalise(model, ev))
    if total == 0:
        raise ImpossibleEvidenceError("zero")
    return post, expl, total


def _engine_row(model: Model, ev: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float]:
    """The exact engine, one evidence row per call (what numbdx.infer runs)."""
    kwargs = {"method": "exact"} if "method" in inspect.signature(infer_codes).parameters else {}
    answer = infer_codes(model, codes_from_evidence(model, [normalise(model, ev)]), **kwargs)
    if answer.failure[0] is not None:
        raise answer.failure[0]
    return answer.posterior[0], answer.explains[0], float(answer.evidence_probability[0])


def _askable(model: Model, ev: dict[str, Any]) -> list[str]:
    chief = ev.get(CHIEF_COMPLAINT, True)
    out = [v.name for v in model.upper if v.name not in ev]
    for f in model.findings:
        if f.name not in ev and (chief or not (f.gated or f.kind == "side")):
            out.append(f.name)
    return out


@settings(max_examples=12)
@given(st.sampled_from(SUBMODELS), st.data(), st.sampled_from(CRITERIA))
def test_value_agrees_with_brute_force_on_submodels(model, data, criterion):
    ev = data.draw(evidence(model, max_findings=4, chief=None))
    try:
        _brute(model, ev)
    except ImpossibleEvidenceError:
        assume(False)
    name = data.draw(st.sampled_from(_askable(model, ev)))
    expected, probabilities = _reference(model, ev, name, criterion, _brute)
    got = value_of_information(ev, [name], model=model, criterion=criterion)[name]
    assert got.value == pytest.approx(expected, abs=1e-9)
    assert [a.probability for a in got.answers] == pytest.approx(probabilities, abs=1e-9)


@settings(max_examples=3)
@given(evidence(MODEL, max_findings=4, max_risk_factors=6))
def test_next_questions_agree_with_one_engine_call_per_answer(ev):
    """On the full model: the batched, derived answers against the engine asked once per answer."""
    try:
        _engine_row(MODEL, ev)
    except ImpossibleEvidenceError:
        assume(False)
    result = next_questions(ev, n=200, include_tests=True)
    assert result.considered == len(result.questions) + len(result.skipped)
    assert not result.skipped
    for q in result.questions:
        expected, probabilities = _reference(MODEL, ev, q.name, "entropy", _engine_row)
        assert q.value == pytest.approx(expected, abs=1e-9), q.name
        assert [a.probability for a in q.answers] == pytest.approx(probabilities, abs=1e-9), q.name


@pytest.mark.parametrize(
    "ev",
    [
        {"age": 58, "sex": "female", "diabetes": True, "numb_toes": True, "tingling": True, "burning": False},
        {"sex": "male", "smoking": True, "pain_worse_walking": True, "coldness": True, "numbness_side": "left"},
    ],
    ids=["diabetic", "smoker"],
)
def test_answers_scored_with_risk_factors_selected_agree_with_one_engine_call_per_answer(ev, monkeypatch):
    """From SELECTED_FROM_TERMS terms the answers are scored with the observed risk factors selected
    (each risk-factor question an elimination of its own): forced here, they must still agree."""
    from numbdx import _voi

    monkeypatch.setattr(_voi, "SELECTED_FROM_TERMS", 0)
    result = next_questions(ev, n=200, include_tests=True)
    assert not result.skipped and any(q.name == "overweight" for q in result.questions)
    for q in result.questions:
        expected, probabilities = _reference(MODEL, ev, q.name, "entropy", _engine_row)
        assert q.value == pytest.approx(expected, abs=1e-9), q.name
        assert [a.probability for a in q.answers] == pytest.approx(probabilities, abs=1e-9), q.name


# --- properties -------------------------------------------------------------------------------------


@settings(max_examples=15)
@given(evidence(MODEL, max_findings=5, chief=None), st.sampled_from(CRITERIA))
def test_value_is_never_negative_and_probabilities_sum_to_one(ev, criterion):
    values = _values_or_skip(ev, criterion=criterion)
    assert values  # something is always left to ask on the full model
    for q in values.values():
        assert q.value >= 0.0, q  # a rounding negative within the bound reads 0; a real one would not
        assert q.error_bound < 0.01  # conservative, from the engine's bounds; never a blow-up
        possible = [a.probability for a in q.answers]
        assert all(0.0 <= p <= 1.0 for p in possible)
        assert sum(possible) == pytest.approx(1.0, abs=1e-9), q.name
        for a in q.answers:
            assert (a.uncertainty is None) == (a.probability == 0.0)


@settings(max_examples=10)
@given(evidence(MODEL, max_findings=5, chief=None))
def test_evidence_already_given_has_zero_value(ev):
    names = [*ev, CHIEF_COMPLAINT]
    values = _values_or_skip(ev, names=names)
    assert list(values) == list(dict.fromkeys(names))
    for q in values.values():
        assert q.answered and q.value == 0.0 and q.max_shift == 0.0
        assert sum(a.probability for a in q.answers) == 1.0  # the one answer given
        assert [a.probability for a in q.answers].count(1.0) == 1


@settings(max_examples=10)
@given(evidence(MODEL, max_findings=5, chief=None))
def test_a_finding_no_cause_produces_has_no_value(ev):
    assert PARENTLESS  # the shipped model has such findings (numb_calf, itching, crawling)
    for name, q in _values_or_skip(ev, names=PARENTLESS).items():
        if name in ev:
            continue
        assert 0.0 <= q.value <= q.error_bound, q  # zero up to rounding
        assert q.max_shift <= 1e-9, q


@settings(max_examples=6)
@given(evidence(MODEL, max_findings=5), st.randoms(use_true_random=False))
def test_evidence_order_does_not_matter(ev, rnd):
    items = list(ev.items())
    rnd.shuffle(items)
    a = _values_or_skip(ev)
    b = _values_or_skip(dict(items))
    assert list(a) == list(b)
    for name in a:
        assert a[name].value == pytest.approx(b[name].value, abs=1e-12)
        assert a[name].probabilities() == pytest.approx(b[name].probabilities(), abs=1e-12)


def test_a_real_negative_is_not_hidden():
    """A value below its rounding bound is left as computed (here from posteriors that are not a
    martingale, which exact inference never produces)."""
    n = len(MODEL.causes)
    base = _Base(np.full(n, 0.1), np.full(n, 0.1), 0.0, True)
    var = _Variable("x", "x", "finding", "sign", (True, False), ("True", "False"))
    outcomes = _Outcomes(
        variables=(var,),
        start=np.array([0, 2]),
        probability=np.array([0.5, 0.5]),
        probability_error=np.zeros(2),
        explains=np.full((2, n), 0.4),  # averages to 0.4, not 0.1: the loss can only rise
        posterior=np.full((2, n), 0.4),
        error=np.zeros(2),
    )
    (q,) = _values(MODEL, base, outcomes, "misclassification")
    assert q.value == pytest.approx(-0.3 * n)


def test_impossible_answers_have_probability_zero():
    q = value_of_information({"sex": "male", "age": 40}, ["pregnancy"])["pregnancy"]
    assert q.probabilities() == {"True": 0.0, "False": 1.0}
    assert q.value <= q.error_bound
    (impossible,) = [a for a in q.answers if a.value is True]
    assert impossible.uncertainty is None and impossible.leader is None


def test_impossible_evidence_raises():
    with pytest.raises(ImpossibleEvidenceError):
        next_questions({"sex": "male", "pregnancy": True})


def test_features_of_absent_numbness_are_not_asked():
    ev = {CHIEF_COMPLAINT: False, "age": 60}
    result = next_questions(ev, n=500)
    gated = {f.name for f in MODEL.findings if f.gated or f.kind == "side"}
    assert not gated & set(result.names())
    values = value_of_information(ev, ["numb_heel", "numbness_side"])
    assert values["numb_heel"].probabilities() == {"True": 0.0, "False": 1.0}
    assert values["numbness_side"].answers and sum(values["numbness_side"].probabilities().values()) == 0.0


# --- next_questions ---------------------------------------------------------------------------------


@settings(max_examples=8)
@given(evidence(MODEL, max_findings=4))
def test_next_questions_are_unanswered_and_ranked(ev):
    try:
        result = next_questions(ev, n=7)
    except ImpossibleEvidenceError:
        assume(False)
    names = result.names()
    assert len(names) == min(7, result.considered)
    assert not set(names) & set(ev)
    assert all(q.kind != "test" for q in result)
    assert [q.value for q in result] == sorted((q.value for q in result), reverse=True)
    json.dumps(result.to_dict(), allow_nan=False)  # JSON-ready


def test_every_kind_of_question_is_offered():
    result = next_questions({}, n=1000, include_tests=True)
    kinds = {q.kind for q in result}
    assert kinds == {"context", "risk_factor", "finding", "test"}
    names = set(result.names())
    assert {"age", "sex", "numbness_side", "numbness_onset"} <= names
    assert CHIEF_COMPLAINT not in names
    (age,) = [q for q in result if q.name == "age"]
    assert [a.label for a in age.answers] == list(MODEL.knowledge.age_bands)
    for a in age.answers:  # each answer's value is an age in its band
        assert normalise(MODEL, {"age": a.value}).upper[MODEL.upper_index["age"]] == age.answers.index(a)


def _everything_answered_but(keep: set[str]) -> dict[str, Any]:
    ev: dict[str, Any] = {"age": 40, "sex": "female"}
    for var in MODEL.upper[2:]:
        ev[var.name] = False
    for f in MODEL.findings:
        if f.name in keep:
            continue
        ev[f.name] = False if f.kind == "binary" else f.states[0]
    return ev


def test_should_stop_when_nothing_left_can_change_the_picture():
    result = next_questions(_everything_answered_but(set(PARENTLESS)))
    assert set(result.names()) == set(PARENTLESS)
    assert result.should_stop, result.stop_reason
    assert all(q.value <= q.error_bound for q in result)


def test_should_not_stop_while_an_answer_moves_a_top_cause():
    ev = _everything_answered_but({*PARENTLESS, "back_pain"})
    back_pain = value_of_information(ev, ["back_pain"])["back_pain"]
    assert back_pain.max_shift > 1e-6
    moving = next_questions(ev, stop_threshold=1e-6)
    assert not moving.should_stop and "back_pain" in moving.stop_reason
    # The rule read from the answers themselves: with the leader unchanged by every answer and no
    # shift above the threshold, a top-1 rule stops.
    threshold = back_pain.max_shift * 2
    relaxed = next_questions(ev, stop_threshold=threshold, stop_top=1)
    assert {a.leader for a in back_pain.answers} == {relaxed.top[0]}
    assert relaxed.should_stop, relaxed.stop_reason


def test_nothing_left_to_ask():
    ev = _everything_answered_but(set())
    result = next_questions(ev)
    assert result.considered == 0 and len(result) == 0 and result.should_stop


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": -1},
        {"n": 1.5},
        {"criterion": "gini"},
        {"stop_top": 0},
        {"stop_threshold": 2},
        {"stop_min_probability": -1},
    ],
)
def test_next_questions_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        next_questions({}, **kwargs)


def test_results_have_readable_reprs():
    result = next_questions({"numb_heel": True}, n=3)
    assert "NextQuestions" in repr(result) and "should stop" in repr(result)
    assert "<table>" in result._repr_html_()
    assert "QuestionValue" in repr(result[0])
    assert isinstance(result[0].answers[0], AnswerOutcome) and "answer" in repr(result[0].answers[0])
    assert isinstance(result, NextQuestions) and len(result) == 3


# --- recommend_tests --------------------------------------------------------------------------------


def test_recommend_tests_trades_value_against_cost():
    ev = {"age": 62, "sex": "male", "diabetes": True, "numb_toes": True, "burning": True}
    records = {t["finding"]: t for t in MODEL.knowledge.actions["test"]}
    tests = recommend_tests(ev)
    assert {t.name for t in tests} == set(records)
    values = value_of_information(ev, list(records))
    for t in tests:
        assert t.tier == records[t.name]["tier"] and t.tier_index == TEST_TIERS.index(t.tier)
        assert t.value == values[t.name].value
        assert t.p_abnormal == values[t.name].probabilities()["True"]
        assert t.score == pytest.approx(t.value / (1 + t.tier_index))
        assert t.citation["source"] and t.citation["quote"]
        json.dumps(t.to_dict(), allow_nan=False)
    assert [t.score for t in tests] == sorted((t.score for t in tests), reverse=True)
    by_value = recommend_tests(ev, cost_weight=0)
    assert [t.value for t in by_value] == sorted((t.value for t in by_value), reverse=True)
    assert "TestRecommendation" in repr(tests[0])


def test_recommend_tests_leaves_out_tests_already_done():
    tests = recommend_tests({"blood_sugar_high": True, "emg_abnormal": False})
    names = {t.name for t in tests}
    assert not {"blood_sugar_high", "emg_abnormal"} & names and names


@pytest.mark.parametrize("weight", [-1, math.inf, math.nan, "1"])
def test_recommend_tests_rejects_bad_cost_weight(weight):
    with pytest.raises(ValueError):
        recommend_tests({}, cost_weight=weight)


def test_evidence_too_heavy_for_the_value_of_information_is_refused():
    positives = ["numb_toes", "tingling", "burning", "numb_foot_sole", "aching_pain", "cramps_convulsions"]
    positives += ["heaviness", "swelling", "chronic_fatigue", "difficulty_walking", "weakness"]
    ev = {"age": 58, "sex": "female", **dict.fromkeys(positives, True)}
    numbdx.infer(ev)  # the differential is still answered
    with pytest.raises(numbdx.InferenceLimitError, match="value of information"):
        next_questions(ev)
