"""Turn a user's evidence mapping into what the engine needs, or raise an error that names the problem.

Rules (documented in the README):

* a missing key, or ``None``, is unknown;
* ``True``/``False`` for binary variables, a state name for categorical ones, a number of years for
  ``age``; anything else (``"yes"``, ``1``, NaN, an unknown state) is an error, never a guess;
* the chief complaint ``leg_numbness`` is present unless the evidence says ``False``; the result says
  when it was assumed;
* evidence that contradicts the model's structure (a numb heel without leg numbness, pregnancy in a
  male) raises :class:`ImpossibleEvidenceError`.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._exceptions import ImpossibleEvidenceError, InvalidEvidenceValueError, UnknownEvidenceError
from ._model import CHIEF_COMPLAINT, Model

MAX_AGE = 130.0
# Patterns of the side finding: bit 0 = left, bit 1 = right.
_SIDE_PATTERN = {"left": 1, "right": 2, "both": 3}


@dataclass(frozen=True)
class Evidence:
    """Evidence checked against a model.

    ``values`` is the normalised evidence (what the answer is conditioned on, including assumptions);
    ``upper`` maps upper-layer variable index to state index; ``findings`` maps finding index to the
    set of patterns the evidence allows.
    """

    values: Mapping[str, Any]
    assumed: tuple[str, ...]
    upper: Mapping[int, int]
    findings: Mapping[int, frozenset[int]]


def _is_nan(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_) and math.isnan(value)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise InvalidEvidenceValueError(f"evidence {name!r} expects True or False, got {value!r} ({type(value).__name__})")


def _state(name: str, value: Any, states: tuple[str, ...]) -> str:
    if isinstance(value, str) and value in states:
        return value
    raise InvalidEvidenceValueError(
        f"evidence {name!r} expects one of {', '.join(repr(s) for s in states)}, got {value!r}"
    )


def _age_band(model: Model, value: Any) -> tuple[float, int]:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InvalidEvidenceValueError(
            f"evidence 'age' expects a number of years, got {value!r} ({type(value).__name__})"
        )
    years = float(value)
    if not math.isfinite(years) or not 0 <= years <= MAX_AGE:
        raise InvalidEvidenceValueError(f"evidence 'age' must be between 0 and {MAX_AGE:g} years, got {value!r}")
    bounds = model.knowledge.age_lower_bounds
    band = max(i for i, low in enumerate(bounds) if years >= low)
    return years, band


def normalise(model: Model, evidence: Mapping[str, Any]) -> Evidence:
    """Validate ``evidence`` against ``model`` and normalise it (see the module docstring)."""
    if not isinstance(evidence, Mapping):
        raise InvalidEvidenceValueError(
            f"evidence must be a mapping from names to values, got {type(evidence).__name__}"
        )
    known = model._evidence_name_set
    values: dict[str, Any] = {}
    for name, value in evidence.items():
        if not isinstance(name, str):
            raise UnknownEvidenceError(name, [])
        if name not in known:
            raise UnknownEvidenceError(name, difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6))
        if value is None:
            continue
        if _is_nan(value):
            raise InvalidEvidenceValueError(f"evidence {name!r} is NaN; leave the key out (or None) for unknown")
        values[name] = value

    upper: dict[int, int] = {}
    normal: dict[str, Any] = {}
    for i, var in enumerate(model.upper):
        if var.name not in values:
            continue
        raw = values[var.name]
        if var.name == "age":
            years, upper[i] = _age_band(model, raw)
            normal["age"] = years
        elif var.name == "sex":
            normal["sex"] = _state("sex", raw, var.states)
            upper[i] = var.states.index(normal["sex"])
        else:
            normal[var.name] = _bool(var.name, raw)
            upper[i] = int(normal[var.name])
    _check_risk_factors_possible(model, upper)

    assumed: tuple[str, ...] = ()
    if CHIEF_COMPLAINT in values:
        chief = _bool(CHIEF_COMPLAINT, values[CHIEF_COMPLAINT])
    else:
        chief, assumed = True, (CHIEF_COMPLAINT,)
    normal[CHIEF_COMPLAINT] = chief

    findings: dict[int, frozenset[int]] = {}
    for i, f in enumerate(model.findings):
        if f.kind == "side":
            if f.name in values:
                side = _state(f.name, values[f.name], f.states)
                if not chief:
                    raise ImpossibleEvidenceError(f"{f.name}={side!r} contradicts {CHIEF_COMPLAINT}=False")
                normal[f.name] = side
                findings[i] = frozenset({_SIDE_PATTERN[side]})
            else:
                findings[i] = frozenset({1, 2, 3}) if chief else frozenset({0})
            continue
        if f.name not in values:
            continue
        if f.kind == "binary":
            value: Any = _bool(f.name, values[f.name])
            pattern = int(value)
        else:
            value = _state(f.name, values[f.name], f.states)
            pattern = 1 if value == f.states[0] else 0
        normal[f.name] = value
        if f.gated and not chief:
            if f.kind == "binary" and value is False:
                continue  # implied by the absence of leg numbness
            raise ImpossibleEvidenceError(f"{f.name}={value!r} describes the leg numbness, but {CHIEF_COMPLAINT}=False")
        findings[i] = frozenset({pattern})
    ordered = {name: normal[name] for name in model.evidence_names() if name in normal}
    return Evidence(values=ordered, assumed=assumed, upper=upper, findings=findings)


def _check_risk_factors_possible(model: Model, upper: Mapping[int, int]) -> None:
    """A risk factor whose observed state has prior probability zero in the observed context."""
    for i, state in upper.items():
        var = model.upper[i]
        table = var.table[..., state]
        index = tuple(upper.get(p, slice(None)) for p in var.parents)
        if not np.any(table[index] > 0):
            context = ", ".join(
                f"{model.upper[p].name}={model.upper[p].states[upper[p]]!r}" for p in var.parents if p in upper
            )
            raise ImpossibleEvidenceError(
                f"{var.name}={var.states[state]} is impossible" + (f" for {context}" if context else "")
            )
