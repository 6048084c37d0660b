"""Parameter uncertainty: every draw is checked against a model rebuilt from a knowledge base with the
drawn numbers written in (the ordinary loader-to-engine path, independent of the vectorised tables)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings

import numbdx
from numbdx import _engine as eng
from numbdx._evidence import normalise
from numbdx._model import Model
from numbdx._priors import Number
from numbdx._uncertainty import _parameters, _score, uncertainty

from .strategies import evidence

MODEL = numbdx.load_model()
SMALL = MODEL.submodel(["lumbosacral_osteochondrosis", "atherosclerosis", "stroke", "positional_compression"])
PATIENT = {"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True, "tingling": True}


def _substitute(obj: Any, values: dict[int, float]) -> Any:
    """``obj`` with every Number whose id is in ``values`` given that value."""
    if isinstance(obj, Number):
        return dataclasses.replace(obj, value=values[id(obj)]) if id(obj) in values else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: _substitute(getattr(obj, f.name), values) for f in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, tuple):
        return tuple(_substitute(x, values) for x in obj)
    return obj


def _rebuilt(model: Model, theta: np.ndarray) -> Model:
    """The model built the ordinary way from the knowledge base with ``theta`` written in (context
    priors renormalised, as the draws are)."""
    params = _parameters(model)
    kb = model.knowledge
    theta = theta.copy()
    for group in (params.age, params.sex):
        theta[group] = theta[group] / theta[group].sum()
    values = {id(p.number): float(v) for p, v in zip(params.params, theta)}
    subset = None if len(model.causes) == len(kb.causes) else model.cause_names
    return Model(_substitute(kb, values), cause_subset=subset)


def _exact(model: Model, ev: dict) -> np.ndarray:
    answer = eng.infer_codes(model, eng.codes_from_evidence(model, [normalise(model, ev)]), with_prior=False)
    return np.concatenate([answer.posterior[0], answer.explains[0]])


@settings(max_examples=15)
@given(evidence(SMALL, max_findings=5, chief=None))
def test_each_draw_equals_a_model_rebuilt_with_its_numbers(ev):
    params = _parameters(SMALL)
    theta = params.sample(3, np.random.default_rng(len(ev)))
    codes = eng.codes_from_evidence(SMALL, [normalise(SMALL, ev)])
    try:
        scored = _score(SMALL, codes, theta, params)
    except numbdx.InferenceLimitError:
        return
    for row in range(len(theta)):
        try:
            expected = _exact(_rebuilt(SMALL, theta[row]), ev)
        except numbdx.ImpossibleEvidenceError:
            continue
        np.testing.assert_allclose(scored[row], expected, rtol=0, atol=1e-9)


def test_the_shipped_numbers_give_the_exact_answer_on_the_full_model():
    params = _parameters(MODEL)
    codes = eng.codes_from_evidence(MODEL, [normalise(MODEL, PATIENT)])
    np.testing.assert_allclose(_score(MODEL, codes, params.value[None], params)[0], _exact(MODEL, PATIENT), atol=1e-12)


def test_draws_stay_within_the_ranges_and_centre_on_the_values():
    params = _parameters(MODEL)
    theta = params.sample(4000, np.random.default_rng(1))
    assert (theta >= params.low).all() and (theta <= params.high).all()
    # a triangular draw's mode is the value: the share below it equals its position in the range
    scaled = params.to_scale(theta)
    a, c, b = (params.to_scale(x) for x in (params.low, params.value, params.high))
    movable = b > a
    share_below = (scaled[:, movable] < c[movable]).mean(axis=0)
    assert np.abs(share_below - ((c - a) / np.where(movable, b - a, 1))[movable]).max() < 0.05


def test_intervals_ranks_and_tornado():
    u = uncertainty(PATIENT, n_samples=400, seed=3)
    exact = numbdx.infer(PATIENT)
    assert u.top == exact.top(1)[0].name
    for c in u.causes:
        assert 0 <= c.low <= c.high <= 1
        assert c.probability == pytest.approx(exact[c.name].explains, abs=1e-12)
    assert sum(c.ranks_first for c in u.causes) == pytest.approx(1.0)
    assert u.tornado and all(a.swing >= b.swing for a, b in zip(u.tornado, u.tornado[1:]))
    # the largest swing, checked on a model rebuilt with that number at either end
    params = _parameters(MODEL)
    first = u.tornado[0]
    p = next(i for i, q in enumerate(params.params) if q.name == first.parameter)
    for end, reported in ((params.low, first.at_low), (params.high, first.at_high)):
        theta = params.value.copy()
        theta[p] = end[p]
        top = MODEL.cause_index[u.top]
        assert _exact(_rebuilt(MODEL, theta), PATIENT)[len(MODEL.causes) + top] == pytest.approx(reported, abs=1e-9)
    assert uncertainty(PATIENT, n_samples=400, seed=3) == u
    assert "ranks first" in u._repr_html_() and u.top in repr(u)


def test_a_rank_flip_is_real():
    # two causes close together: some single number flips them
    ev = {"age": 50, "swelling": True}
    u = uncertainty(ev, n_samples=50)
    assert u.flip is not None
    params = _parameters(MODEL)
    p = next(i for i, q in enumerate(params.params) if q.name == u.flip.parameter)
    theta = params.value.copy()
    theta[p] = u.flip.needed
    moved = _exact(_rebuilt(MODEL, theta), ev)[len(MODEL.causes) :]
    assert MODEL.cause_names[int(np.argmax(moved))] == u.flip.new_top != u.top
    assert 0 < u.flip.fraction <= 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": True}, "n_samples"),
        ({"quantity": "prior"}, "quantity"),
        ({"interval": (0.9, 0.1)}, "interval"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        uncertainty({"age": 40}, **kwargs)
