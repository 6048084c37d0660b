"""Properties that must hold for any evidence (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numbdx
from numbdx import ImpossibleEvidenceError
from numbdx._engine import MAX_ERROR

from .strategies import evidence

MODEL = numbdx.load_model()


def _infer(ev):
    try:
        return numbdx.infer(ev)
    except ImpossibleEvidenceError:
        assume(False)


@given(evidence(MODEL, max_findings=8, chief=None))
def test_probabilities_are_bounded(ev):
    d = _infer(ev)
    for c in d.causes:
        assert 0.0 <= c.explains <= c.posterior + d.error_bound
        assert 0.0 <= c.posterior <= 1.0 and 0.0 <= c.prior <= 1.0
    assert d.error_bound <= MAX_ERROR  # the engine raises rather than answer less precisely


@given(evidence(MODEL, max_findings=8), st.randoms())
def test_evidence_order_does_not_matter(ev, rnd):
    items = list(ev.items())
    rnd.shuffle(items)
    assert _infer(dict(items)).posteriors() == _infer(ev).posteriors()


def _fed_causes(name):
    return [
        c.name for c in MODEL.knowledge.causes if name in c.requires or any(o.factor == name for o in c.odds_ratios)
    ]


RISK_FACTORS = [v.name for v in MODEL.upper[2:]]
SINGLE_CHILD = [r for r in RISK_FACTORS if len(_fed_causes(r)) == 1]


@given(evidence(MODEL, max_findings=6, max_risk_factors=3), st.sampled_from(RISK_FACTORS))
def test_a_risk_factor_never_lowers_the_prior_of_a_cause_it_feeds(ev, factor):
    ev = {k: v for k, v in ev.items() if k != factor}
    if factor == "pregnancy":
        ev.update(sex="female", age=28)
    with_factor, without = _infer({**ev, factor: True}), _infer({**ev, factor: False})
    unknown = _infer(ev)
    for cause in _fed_causes(factor):
        assert with_factor[cause].prior >= unknown[cause].prior - 1e-15 >= without[cause].prior - 2e-15


@pytest.mark.skipif(not SINGLE_CHILD, reason="no risk factor feeds a single cause")
@given(evidence(MODEL, max_findings=6, max_risk_factors=3), st.sampled_from(SINGLE_CHILD or ["_"]))
def test_a_risk_factor_never_lowers_the_posterior_of_its_only_cause(ev, factor):
    """With the context fixed, a factor feeding one cause changes only that cause's prior odds, so its
    posterior cannot fall (with several children, explaining away between them can lower one)."""
    ev = {k: v for k, v in ev.items() if k != factor}
    ev.setdefault("age", 40)
    ev.setdefault("sex", "female")
    (cause,) = _fed_causes(factor)
    assert _infer({**ev, factor: True})[cause].posterior >= _infer({**ev, factor: False})[cause].posterior - 1e-12


@given(evidence(MODEL, max_findings=6))
def test_negative_finding_never_raises_a_cause_without_a_link_to_others(ev):
    """Adding 'finding absent' divides each cause's odds by a factor >= 1 when only that cause links to it."""
    exclusive = [f for f in MODEL.findings if f.kind == "binary" and len(f.parents) == 1 and not f.gated]
    for f in exclusive:
        if f.name in ev:
            continue
        cause = MODEL.causes[f.parents[0]].name
        assert _infer({**ev, f.name: False})[cause].posterior <= _infer(ev)[cause].posterior + 1e-12
