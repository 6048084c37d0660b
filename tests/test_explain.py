"""``explain``: each evidence item's leave-one-out weight on a cause's log-odds.

Expected numbers come from the brute-force oracle (``tests/_oracle.py``) or from ``numbdx.infer`` on the
reduced evidence, never from the code under test.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import numbdx
from numbdx import ImpossibleEvidenceError, InferenceLimitError, NumbdxError, UnknownCauseError, UnknownEvidenceError
from numbdx import _explain as explain_module
from numbdx._evidence import normalise
from numbdx._explain import CauseExplanation, EvidenceWeight, Explanation, explain
from numbdx._model import CHIEF_COMPLAINT

from ._oracle import brute_force
from .strategies import evidence, submodel_and_evidence

MODEL = numbdx.load_model()
SMALL = MODEL.submodel(["stroke", "positional_compression"])
TOL = 1e-9
QUANTITIES = ("explains", "posterior")
# Features of the numbness that no cause produces: given leg numbness, each is on with its leak
# probability whatever the causes, so it carries no information about any cause.
UNLINKED = [f.name for f in MODEL.findings if f.gated and f.kind != "side" and not f.parents]


def _logit(p: float) -> float:
    return -math.inf if p == 0 else math.inf if p == 1 else math.log(p / (1 - p))


def _oracle_without(model, values: dict, item: str):
    """The oracle's evidence for ``values`` without ``item``; without the chief complaint it is unknown,
    which the oracle (unlike the engine) reads directly: every side pattern allowed, unless the evidence
    describes the numbness (a side, a feature present, or any state of a categorical feature such as
    its onset), which the model reads as implying it."""
    rest = {k: v for k, v in values.items() if k != item}
    if item != CHIEF_COMPLAINT:
        return normalise(model, rest)
    ev = normalise(model, rest)  # the complaint assumed present: every given feature is kept
    side = ev.findings[model.side_index]
    describes = any(
        model.findings[model.finding_index[name]].gated and value is not False
        for name, value in rest.items()
        if name in model.finding_index
    )
    if side == frozenset({1, 2, 3}) and not describes:  # the complaint's absence is allowed too
        ev = dataclasses.replace(ev, findings={**ev.findings, model.side_index: frozenset({0, 1, 2, 3})})
    return ev


def _oracle(model, ev, quantity):
    present, explains, _ = brute_force(model, ev)
    return present if quantity == "posterior" else explains


def _explain_or_skip(model, ev, **kwargs):
    try:
        return explain(model, ev, **kwargs)
    except ImpossibleEvidenceError:
        assume(False)


def _check_against_oracle(model, ev, quantity, *, tol=TOL):
    why = _explain_or_skip(model, ev, quantity=quantity)
    values = dict(why.evidence)
    p = _oracle(model, normalise(model, ev), quantity)
    items = list(values)
    without = {item: _oracle(model, _oracle_without(model, values, item), quantity) for item in items}
    for c in why:
        k = model.cause_index[c.cause]
        assert c.probability == pytest.approx(p[k], abs=tol)
        assert sorted(w.item for w in c.weights) == sorted(items)
        for w in c.weights:
            q = without[w.item][k]
            assert w.probability_without == pytest.approx(q, abs=tol), w.item
            assert w.probability_change == pytest.approx(p[k] - q, abs=2 * tol), w.item
            if 0 < p[k] < 1 and 0 < q < 1:
                expected = _logit(p[k]) - _logit(q)
                assert abs(w.log_odds_change - expected) <= tol + w.log_odds_error + 1e-9 * abs(expected), w.item
            elif p[k] == q:  # both exactly 0 (or 1): the item changes nothing
                assert w.log_odds_change == 0.0, w.item
            else:  # the oracle's probability is exactly 0 or 1: an infinite weight of the right sign
                assert w.log_odds_change == _logit(p[k]) - _logit(q), w.item


@pytest.mark.parametrize("quantity", QUANTITIES)
@pytest.mark.parametrize(
    "ev",
    [
        {"age": 70, "sex": "male", "smoking": True, "weakness": True, "numb_heel": False},
        {"age": 30, "only_at_night": True, "wooliness": True, "dizziness": False},
        {"leg_numbness": False, "age": 75, "facial_distortion": True, "numb_heel": False},
        {"leg_numbness": True, "numbness_side": "left", "numbness_onset": "sudden", "diabetes": False},
    ],
)
def test_weights_match_brute_force_on_a_small_model(ev, quantity):
    _check_against_oracle(SMALL, ev, quantity)


@settings(max_examples=25)
@given(submodel_and_evidence(max_findings=4), st.sampled_from(QUANTITIES))
def test_weights_agree_with_brute_force(case, quantity):
    model, ev = case
    _check_against_oracle(model, ev, quantity)


def test_probabilities_without_an_item_are_infer_on_the_reduced_evidence():
    """The batched call gives what one ``infer`` per reduced evidence gives."""
    ev = {"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True, "numbness_side": "both"}
    why = explain(MODEL, ev)
    full = numbdx.infer(ev)
    for c in why:
        assert c.probability == pytest.approx(full[c.cause].explains, abs=1e-12)
        for w in c.weights:
            if w.item == CHIEF_COMPLAINT:
                continue  # made unknown, which infer cannot express (see the oracle tests)
            reduced = numbdx.infer({k: v for k, v in ev.items() if k != w.item})
            assert w.probability_without == pytest.approx(reduced[c.cause].explains, abs=1e-12)


@given(evidence(MODEL, max_findings=5), st.randoms(), st.sampled_from(QUANTITIES))
def test_evidence_order_does_not_matter(ev, rnd, quantity):
    items = list(ev.items())
    rnd.shuffle(items)
    assert explain(MODEL, dict(items), quantity=quantity) == explain(MODEL, ev, quantity=quantity)


@given(evidence(MODEL, max_findings=4))
def test_unknown_evidence_changes_nothing(ev):
    """A key given as None is unknown, as if it were left out: no item, no change."""
    missing = [n for n in MODEL.evidence_names() if n not in ev and n != CHIEF_COMPLAINT][:5]
    with_none = {**ev, **dict.fromkeys(missing)}
    assert explain(MODEL, with_none) == explain(MODEL, ev)


@given(evidence(MODEL, max_findings=6, chief=None), st.sampled_from(QUANTITIES))
def test_weights_are_consistent(ev, quantity):
    why = _explain_or_skip(MODEL, ev, quantity=quantity)
    assert len(why) == len(MODEL.causes)
    for c in why:
        sizes = [abs(w.log_odds_change) for w in c.weights]
        assert sizes == sorted(sizes, reverse=True)
        for w in c.weights:
            p, q = c.probability, w.probability_without
            assert w.probability_change == p - q
            if 0 < p < 1 and 0 < q < 1:
                assert math.isfinite(w.log_odds_change)
            if w.direction == "for":
                assert w.log_odds_change > 0 and w.probability_change > 0
            elif w.direction == "against":
                assert w.log_odds_change < 0 and w.probability_change < 0
            else:
                assert w.direction == "neutral"
                assert w.log_odds_change == 0 or abs(w.log_odds_change) <= w.log_odds_error
            assert w.assumed == (w.item in why.assumed)


@pytest.mark.skipif(not UNLINKED, reason="every feature of the numbness has a cause")
@given(evidence(MODEL, max_findings=4), st.sampled_from(UNLINKED or ["_"]), st.booleans(), st.sampled_from(QUANTITIES))
def test_a_feature_no_cause_produces_has_no_weight(ev, name, value, quantity):
    why = _explain_or_skip(MODEL, {**ev, name: value}, quantity=quantity)
    for c in why:
        w = c[name]
        assert abs(w.log_odds_change) <= TOL and abs(w.probability_change) <= TOL
        assert w.direction == "neutral"


def _fed_causes(name: str) -> list[str]:
    return [
        c.name for c in MODEL.knowledge.causes if name in c.requires or any(o.factor == name for o in c.odds_ratios)
    ]


SINGLE_CHILD = [v.name for v in MODEL.upper[2:] if len(_fed_causes(v.name)) == 1]


@pytest.mark.skipif(not SINGLE_CHILD, reason="no risk factor feeds a single cause")
@given(
    evidence(MODEL, max_findings=5, max_risk_factors=2),
    st.sampled_from(SINGLE_CHILD or ["_"]),
    st.booleans(),
    st.sampled_from(QUANTITIES),
)
def test_a_risk_factor_with_one_cause_weighs_for_it_when_present(ev, factor, value, quantity):
    """With the context known, a factor feeding one cause only moves that cause's prior odds, so
    P(c | factor) >= P(c | factor unknown) >= P(c | no factor): present argues for, absent against
    (explaining away cannot reverse it: the factor has no other child)."""
    ev = {**ev, factor: value}
    ev.setdefault("age", 40)
    ev.setdefault("sex", "female")
    (cause,) = _fed_causes(factor)
    w = _explain_or_skip(MODEL, ev, causes=[cause], quantity=quantity)[cause][factor]
    assert w.direction in (("for", "neutral") if value else ("against", "neutral"))
    assert (w.log_odds_change if value else -w.log_odds_change) >= -w.log_odds_error


def test_a_feature_implied_by_no_leg_numbness_has_weight_zero():
    ev = {"leg_numbness": False, "numb_heel": False, "age": 50, "numb_hands": True}
    for c in explain(MODEL, ev, quantity="posterior"):
        w = c["numb_heel"]
        assert w.log_odds_change == 0.0 and w.probability_without == c.probability and w.direction == "neutral"


def test_no_leg_numbness_makes_every_explains_zero():
    ev = {"leg_numbness": False, "age": 50, "numb_hands": True}
    why = explain(MODEL, ev)
    reduced = numbdx.infer({"age": 50, "numb_hands": True})  # the complaint unknown is at least ...
    for c in why:
        assert c.probability == 0.0
        chief = c[CHIEF_COMPLAINT]
        # ... the part with it present: P(c explains | e') = P(c explains | e', True) P(True | e')
        assert chief.probability_without <= reduced[c.cause].explains
        if reduced[c.cause].explains > 0:
            assert chief.probability_without > 0
            assert chief.log_odds_change == -math.inf and chief.direction == "against"
        else:  # impossible anyway (pregnancy at 50)
            assert chief.log_odds_change == 0.0 and chief.direction == "neutral"
        for w in c.weights:
            if w.item != CHIEF_COMPLAINT:
                assert w.log_odds_change == 0.0 and w.direction == "neutral"
    data = why.to_dict()
    json.dumps(data, allow_nan=False)
    assert {c["cause"] for c in data["causes"] if c["weights"][0]["log_odds_change"] == "-inf"} == {
        c.cause for c in why if reduced[c.cause].explains > 0
    }


def test_a_structural_zero_gives_minus_infinity():
    """No pregnancy compression in a man: the item that alone rules it out has weight -inf."""
    ev = {"sex": "male", "age": 40}
    c = explain(MODEL, ev, causes="pregnancy_compression", quantity="posterior")["pregnancy_compression"]
    assert c.probability == 0.0
    sex = c["sex"]
    assert sex.log_odds_change == -math.inf and sex.direction == "against"
    assert sex.probability_without == pytest.approx(numbdx.infer({"age": 40})["pregnancy_compression"].posterior)
    assert sex.probability_without > 0
    assert c["age"].log_odds_change == 0.0 and c["age"].direction == "neutral"  # still a man without age
    assert c.weights[0] is sex
    assert json.loads(json.dumps(sex.to_dict(), allow_nan=False))["log_odds_change"] == "-inf"


def test_the_assumed_complaint_is_weighed_and_marked():
    ev = {"age": 67, "smoking": True}
    why = explain(MODEL, ev)
    assert why.assumed == (CHIEF_COMPLAINT,)
    for c in why:
        assert c[CHIEF_COMPLAINT].assumed and c[CHIEF_COMPLAINT].value is True
        assert not c["smoking"].assumed
    without = explain(MODEL, ev, include_assumed=False)
    for c in without:
        assert CHIEF_COMPLAINT not in [w.item for w in c.weights]
        assert [w for w in why[c.cause].weights if w.item != CHIEF_COMPLAINT] == list(c.weights)


def test_the_complaint_implied_by_other_evidence_has_weight_zero():
    for ev in ({"numb_heel": True}, {"numbness_side": "left"}, {"numbness_onset": "gradual", "numb_heel": False}):
        for c in explain(MODEL, ev):
            w = c[CHIEF_COMPLAINT]
            assert w.log_odds_change == 0.0 and w.probability_without == c.probability


def test_causes_default_to_the_differential_order_and_can_be_chosen():
    ev = {"age": 30, "sex": "female", "pregnancy": True, "numb_heel": True}
    why = explain(MODEL, ev)
    assert [c.cause for c in why] == [c.name for c in numbdx.infer(ev)]
    chosen = explain(MODEL, ev, causes=["stroke", "pregnancy_compression", "stroke"])
    assert [c.cause for c in chosen] == ["stroke", "pregnancy_compression"]
    assert chosen["stroke"] == why["stroke"]
    assert [c.cause for c in explain(MODEL, ev, causes="stroke")] == ["stroke"]
    assert explain(MODEL, ev, causes=[]).causes == ()
    assert explain(None, ev) == why  # the shipped model by default
    with pytest.raises(TypeError):
        hash(why)  # holds dicts: equal by value, not hashable


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(UnknownCauseError) as info:
        explain(MODEL, {}, causes=["strok"])
    assert isinstance(info.value, NumbdxError) and isinstance(info.value, KeyError)
    assert "strok" in str(info.value) and "stroke" in info.value.suggestions
    with pytest.raises(UnknownCauseError):
        explain(MODEL, {}, causes=[3])
    with pytest.raises(ValueError, match="'explains', 'posterior'"):
        explain(MODEL, {}, quantity="prior")
    with pytest.raises(TypeError, match=r"numbdx\.Model"):
        explain({"age": 40}, None)  # type: ignore[arg-type]
    with pytest.raises(UnknownEvidenceError):
        explain(MODEL, {"numb_heal": True})
    with pytest.raises(ImpossibleEvidenceError):
        explain(MODEL, {"sex": "male", "pregnancy": True})
    with pytest.raises(ImpossibleEvidenceError):
        explain(MODEL, {"leg_numbness": False, "numb_heel": True})
    with pytest.raises(KeyError, match="no cause named"):
        explain(MODEL, {}, causes=["stroke"])["gout"]
    with pytest.raises(KeyError, match="no evidence item"):
        explain(MODEL, {}, causes=["stroke"])["stroke"]["age"]


def test_a_query_the_engine_cannot_answer_names_the_item(monkeypatch):
    real = explain_module.infer_codes

    def failing(model, codes, **kwargs):
        answer = real(model, codes, **kwargs)
        failure = list(answer.failure)
        failure[1] = InferenceLimitError("too many terms")
        return dataclasses.replace(answer, failure=failure)

    monkeypatch.setattr(explain_module, "infer_codes", failing)
    with pytest.raises(InferenceLimitError, match=r"'age'.*too many terms"):
        explain(MODEL, {"age": 40, "smoking": True})


def test_to_dict_is_json_ready_and_complete():
    ev = {"age": 67, "sex": "male", "smoking": True}
    why = explain(MODEL, ev, quantity="posterior")
    data = json.loads(json.dumps(why.to_dict(), allow_nan=False))
    assert data["quantity"] == "posterior" and data["definition"] == why.definition
    assert data["evidence"] == {**ev, "age": 67.0, CHIEF_COMPLAINT: True}
    assert [c["cause"] for c in data["causes"]] == [c.cause for c in why]
    first = why.causes[0]
    assert data["causes"][0]["weights"][0] == {
        **dataclasses.asdict(first.weights[0]),
        "value": first.weights[0].value,
    }
    assert "logit P(c | e) - logit P(c | e without i)" in why.definition


def test_repr_and_html():
    why = explain(MODEL, {"age": 67, "smoking": True})
    text = repr(why)
    assert "leg_numbness=True (assumed)" in text and "more causes" in text
    assert why.causes[0].cause in text
    assert why._repr_html_().startswith("<div>")
    weight = EvidenceWeight("age", 40.0, math.inf, 0.5, "for", 0.1)
    hostile = Explanation((CauseExplanation("x<y>", "<script>alert(1)</script>", 0.6, (weight,)),), "explains", "a & b")
    page = hostile._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "+inf" in page
    broken = Explanation((CauseExplanation("x", "y", None, (weight,)),), "explains", "d")  # type: ignore[arg-type]
    page = broken._repr_html_()  # formatting None fails: the fallback never raises
    assert page.startswith("<pre>") and "Explanation" in page


def test_frame_has_one_row_per_cause_and_item():
    why = explain(MODEL, {"age": 67, "smoking": True}, causes=["stroke", "atherosclerosis"])
    frame = why.to_frame()
    assert len(frame) == 2 * 3
    assert set(frame["cause"]) == {"stroke", "atherosclerosis"}
    assert np.isfinite(frame["log_odds_change"]).all()
