"""Why a cause ranks where it does: each evidence item's weight for or against it (leave-one-out).

The weight of evidence item ``i`` for cause ``c`` is

    ``logit P(c | e) - logit P(c | e without i)``

(natural logarithms), the change in log-odds that the item makes, measured by removing it from the
evidence ``e`` and asking the exact engine again. ``P`` is the quantity the differential ranks by,
P(c present *and producing the leg numbness* | e) (``"explains"``), or P(c present | e)
(``"posterior"``). All the queries, ``e`` and ``e`` without each item, go to the engine in one batched
call.

Removing the chief complaint makes it *unknown*, neither True nor False. The engine only answers
evidence with the complaint known (a gated feature such as a numb heel is read given that a cause numbs
the leg), so ``P(c | e without leg_numbness)`` is the mixture of the two complete answers weighted by
the probability of the evidence under each:

    ``P(c | e') = (P(c | e', True) P(e', True) + P(c | e', False) P(e', False)) / (P(e', True) + P(e', False))``

where a part the model makes impossible (a numb heel, a side or an onset without leg numbness) has
weight zero.
"""

from __future__ import annotations

import difflib
import html
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._display import fallback_html
from ._engine import codes_from_evidence, infer_codes
from ._evidence import Evidence, normalise
from ._exceptions import ImpossibleEvidenceError, InferenceLimitError, UnknownCauseError
from ._model import CHIEF_COMPLAINT, Model

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CauseExplanation", "EvidenceWeight", "Explanation", "explain"]

EXPLANATION_FORMAT = "numbdx.explanation/1"
QUANTITIES = {
    "explains": "P(cause present and producing the leg numbness | evidence)",
    "posterior": "P(cause present | evidence)",
}
DEFINITION = (
    "weight of evidence item i for cause c = logit P(c | e) - logit P(c | e without i) (natural log), "
    "where P is {quantity} and e is the evidence including assumptions; positive: the item argues for "
    "the cause. probability_change = P(c | e) - P(c | e without i). Removing leg_numbness makes it "
    "unknown. logit(0) = -inf and logit(1) = +inf, so an item that alone makes the cause impossible (or "
    "certain) has weight -inf (+inf); two equal probabilities give 0. Weights are leave-one-out: they "
    "do not add up to the change from the prior, and two items that each settle a cause alone both get 0."
)
# Shown in the repr / HTML before "... more causes"; to_dict() always has every cause.
REPR_CAUSES = 8


@dataclass(frozen=True)
class EvidenceWeight:
    """One evidence item's weight for or against one cause.

    Attributes
    ----------
    item : str
        The evidence name.
    value : object
        Its normalised value (``age`` in years, ``True``/``False``, or a state name).
    log_odds_change : float
        ``logit P(c | e) - logit P(c | e without this item)``, natural log; ``+inf``/``-inf`` when the
        item alone makes the cause certain/impossible (the probability with it is exactly 1/0).
    probability_change : float
        ``P(c | e) - P(c | e without this item)``.
    direction : {"for", "against", "neutral"}
        The sign of the change; ``"neutral"`` when the two probabilities differ by no more than their
        rounding-error bounds (an item with no bearing on the cause), and then
        ``|log_odds_change| <= log_odds_error``.
    probability_without : float
        ``P(c | e without this item)``.
    assumed : bool
        The item was assumed, not given (the chief complaint ``leg_numbness`` when absent).
    log_odds_error : float
        Bound on the rounding error of ``log_odds_change`` implied by the engine's bound on the
        probabilities; ``inf`` when a probability is within that bound of 0 or 1 (without being exactly
        0 or 1), so the log-odds is not resolved. Probabilities the engine reports as exactly 0 or 1
        are taken as exact, as :func:`numbdx.infer` reports them.
    """

    item: str
    value: Any
    log_odds_change: float
    probability_change: float
    direction: Literal["for", "against", "neutral"]
    probability_without: float
    assumed: bool = False
    log_odds_error: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite numbers as the strings ``"inf"``, ``"-inf"`` (``"nan"``)."""
        return {
            "item": self.item,
            "value": self.value,
            "log_odds_change": _json_float(self.log_odds_change),
            "probability_change": _json_float(self.probability_change),
            "direction": self.direction,
            "probability_without": _json_float(self.probability_without),
            "assumed": self.assumed,
            "log_odds_error": _json_float(self.log_odds_error),
        }


@dataclass(frozen=True)
class CauseExplanation:
    """The weights of every evidence item for one cause, largest ``|log_odds_change|`` first.

    Attributes
    ----------
    cause, label : str
        The cause's name and plain-language label.
    probability : float
        ``P(cause | e)`` in the explanation's quantity.
    weights : tuple of EvidenceWeight
        Sorted by ``|log_odds_change|``, largest first (ties in evidence-vocabulary order).
    """

    cause: str
    label: str
    probability: float
    weights: tuple[EvidenceWeight, ...]

    def __getitem__(self, item: str) -> EvidenceWeight:
        for w in self.weights:
            if w.item == item:
                return w
        raise KeyError(f"no evidence item {item!r} in the explanation of {self.cause!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (see :meth:`EvidenceWeight.to_dict`)."""
        return {
            "cause": self.cause,
            "label": self.label,
            "probability": _json_float(self.probability),
            "weights": [w.to_dict() for w in self.weights],
        }


@dataclass(frozen=True)
class Explanation:
    """Per cause, each evidence item's weight for or against it (see :func:`explain`).

    Attributes
    ----------
    causes : tuple of CauseExplanation
        In differential order (highest ``explains``, then ``posterior``, then name) or in the order
        asked for.
    quantity : {"explains", "posterior"}
        The probability the weights are computed on.
    definition : str
        The exact definition of the weights.
    evidence : dict
        The normalised evidence, including assumptions.
    assumed : tuple of str
        Evidence that was assumed (``leg_numbness`` unless given).
    error_bound : float
        Bound on the absolute rounding error of any probability in the explanation.
    model_identity : dict
        ``package_version`` and ``priors_sha256`` of the model that answered.
    """

    causes: tuple[CauseExplanation, ...]
    quantity: str
    definition: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    assumed: tuple[str, ...] = ()
    error_bound: float = 0.0
    model_identity: Mapping[str, str] = field(default_factory=dict)

    __hash__ = None  # type: ignore[assignment]  # holds dicts

    def __getitem__(self, cause: str) -> CauseExplanation:
        for c in self.causes:
            if c.cause == cause:
                return c
        raise KeyError(f"no cause named {cause!r} in this explanation")

    def __iter__(self) -> Iterator[CauseExplanation]:
        return iter(self.causes)

    def __len__(self) -> int:
        return len(self.causes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types; ``json.dumps(..., allow_nan=False)`` accepts it.

        JSON has no infinity, so an infinite ``log_odds_change`` (a structural zero or certainty)
        is the string ``"inf"`` or ``"-inf"``; every finite number stays a number.
        """
        return {
            "format": EXPLANATION_FORMAT,
            "quantity": self.quantity,
            "definition": self.definition,
            "evidence": dict(self.evidence),
            "assumed": list(self.assumed),
            "error_bound": _json_float(self.error_bound),
            "model": dict(self.model_identity),
            "causes": [c.to_dict() for c in self.causes],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per (cause, item): probability, weight, probability change, direction and more."""
        import pandas as pd

        rows = [
            {
                "cause": c.cause,
                "probability": c.probability,
                "item": w.item,
                "value": w.value,
                "log_odds_change": w.log_odds_change,
                "probability_change": w.probability_change,
                "probability_without": w.probability_without,
                "direction": w.direction,
                "assumed": w.assumed,
                "log_odds_error": w.log_odds_error,
            }
            for c in self.causes
            for w in c.weights
        ]
        columns = [
            "cause",
            "probability",
            "item",
            "value",
            "log_odds_change",
            "probability_change",
            "probability_without",
            "direction",
            "assumed",
            "log_odds_error",
        ]
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        lines = [f"<numbdx.Explanation: weights on the log-odds of {QUANTITIES.get(self.quantity, self.quantity)}>"]
        for c in self.causes[:REPR_CAUSES]:
            lines.append(f"  {c.cause} ({c.label}): {self.quantity} {_percent(c.probability)}")
            for w in c.weights:
                mark = " (assumed)" if w.assumed else ""
                lines.append(
                    f"    {_signed(w.log_odds_change):>8}  {w.item}={w.value!r}{mark}  "
                    f"[{w.direction}; {_percent(c.probability)} with, {_percent(w.probability_without)} without]"
                )
        if len(self.causes) > REPR_CAUSES:
            lines.append(f"  ... {len(self.causes) - REPR_CAUSES} more causes (see .causes)")
        lines.append("  weight = logit P(c | e) - logit P(c | e without the item); see .definition")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        try:
            parts = [
                f"<div><p>Weights on the log-odds of {html.escape(QUANTITIES.get(self.quantity, self.quantity))}"
                " (removing each item in turn)</p>"
            ]
            for c in self.causes[:REPR_CAUSES]:
                rows = "".join(
                    f"<tr><td>{html.escape(w.item)}</td><td>{html.escape(repr(w.value))}"
                    f"{' (assumed)' if w.assumed else ''}</td><td>{html.escape(_signed(w.log_odds_change))}</td>"
                    f"<td>{_percent(w.probability_without)}</td><td>{html.escape(w.direction)}</td></tr>"
                    for w in c.weights
                )
                parts.append(
                    f"<p><b>{html.escape(c.label)}</b> ({html.escape(c.cause)}): {_percent(c.probability)}</p>"
                    "<table><thead><tr><th>item</th><th>value</th><th>log-odds change</th>"
                    f"<th>without it</th><th>direction</th></tr></thead><tbody>{rows}</tbody></table>"
                )
            if len(self.causes) > REPR_CAUSES:
                parts.append(f"<p>... {len(self.causes) - REPR_CAUSES} more causes</p>")
            parts.append(f"<p><small>{html.escape(self.definition)}</small></p></div>")
            return "".join(parts)
        except Exception:  # a repr must never raise in a notebook
            return fallback_html(self)


def _json_float(x: float) -> float | str:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _percent(p: float) -> str:
    # Small probabilities keep their size instead of printing as 0.00%.
    return f"{p:.1e}" if 0 < p < 1e-4 else f"{p:.2%}"


def _signed(x: float) -> str:
    return f"{x:+.3f}" if math.isfinite(x) else ("+inf" if x > 0 else "-inf" if x < 0 else "nan")


def _logit(p: float) -> float:
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p) - math.log1p(-p)


def _logit_error(p: float, bound: float) -> float:
    """How far ``logit(p)`` can be from the truth when ``p`` is within ``bound`` of it."""
    if p in (0.0, 1.0):  # taken as exact, as infer() reports it (structural zeros and certainties)
        return 0.0
    low, high = p - bound, p + bound
    if low <= 0.0 or high >= 1.0:
        return math.inf
    centre = _logit(p)
    return max(centre - _logit(low), _logit(high) - centre)


def _cause_indices(model: Model, causes: str | Iterable[str] | None) -> list[int] | None:
    """Model indices of the named causes, in the given order without repeats; None for all."""
    if causes is None:
        return None
    names = [causes] if isinstance(causes, str) else list(causes)
    out: list[int] = []
    for name in names:
        if not isinstance(name, str) or name not in model.cause_index:
            close = difflib.get_close_matches(name, model.cause_names, n=3, cutoff=0.6) if isinstance(name, str) else []
            raise UnknownCauseError(name, close)
        if model.cause_index[name] not in out:
            out.append(model.cause_index[name])
    return out


def _without(values: Mapping[str, Any], item: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != item}


def explain(
    model: Model | None,
    evidence: Mapping[str, Any] | None,
    *,
    causes: str | Iterable[str] | None = None,
    quantity: str = "explains",
    include_assumed: bool = True,
) -> Explanation:
    """Each evidence item's weight for or against each cause: why the differential looks as it does.

    The weight of evidence item ``i`` for cause ``c`` is::

        logit P(c | e) - logit P(c | e without i)

    with natural logarithms: the change in log-odds the item makes, found by removing it from the
    evidence ``e`` (normalised, including assumptions) and asking the exact engine again. ``P`` is
    P(c present and producing the leg numbness | e) for ``quantity="explains"`` (what the differential
    ranks by), or P(c present | e) for ``quantity="posterior"``. Alongside it,
    ``probability_change = P(c | e) - P(c | e without i)``.

    Parameters
    ----------
    model
        The model; the shipped one when None.
    evidence
        As for :func:`numbdx.infer`.
    causes
        Cause names to explain, in that order (one name may be given as a string); every cause, in
        differential order, by default.
    quantity
        ``"explains"`` (default) or ``"posterior"``. With ``leg_numbness=False`` every ``explains``
        is 0 and every item but the complaint is neutral; use ``"posterior"`` there.
    include_assumed
        Weigh the assumed chief complaint too (default). It is marked ``assumed=True``: the answer is
        conditioned on it, so its weight, how much the complaint itself raises the cause, is part of
        why the cause ranks where it does (for ``"explains"`` often the largest). It is 0 when other
        evidence implies the complaint (a numb heel, a side, an onset).

    Returns
    -------
    Explanation
        Per cause, the weights sorted by ``|log_odds_change|``, largest first.

    Notes
    -----
    * Removing ``leg_numbness`` makes it unknown (neither True nor False): ``P(c | e without it)`` is
      the mixture of the answers with it True and False, weighted by the probability of the evidence
      under each; the part the model makes impossible has weight zero: evidence that describes the
      numbness (a side, a gated feature present, any state of its onset or course) implies it, and
      then the complaint's weight is exactly 0.
    * A feature of the numbness given False alongside ``leg_numbness=False`` is implied by it, so its
      weight is exactly 0.
    * Infinite weights are honest: when the evidence makes a cause impossible (pregnancy compression
      in a man) the probability is exactly 0 and an item that alone does so has weight ``-inf``; one
      that alone makes it certain, ``+inf``. Two equal probabilities (both 0, or both 1, included)
      give weight 0.
    * Weights are leave-one-out, not a decomposition: they do not add up to the change from the prior,
      and two items that each settle the cause alone (``sex="male"`` and ``pregnancy=False`` for
      pregnancy compression) both get weight 0.
    * Every probability carries the engine's bound on its rounding error (``Explanation.error_bound``),
      which gives each weight a ``log_odds_error`` (``inf`` when a probability is within the bound of 0
      or 1 but not exactly there: its log-odds is not resolved); ``direction`` is ``"neutral"`` when
      the two probabilities agree within their bounds.
    * Removing evidence never makes it impossible or harder for the engine, except for the mixture
      above with ``leg_numbness=False`` given (the True part reads every gated feature); if the engine
      cannot answer a query, :class:`InferenceLimitError` names the item.

    Raises
    ------
    ValueError
        ``quantity`` is not ``"explains"`` or ``"posterior"``.
    TypeError
        ``model`` is not a :class:`Model` (or None).
    UnknownCauseError
        A cause name is not in the model (closest names suggested).
    UnknownEvidenceError, InvalidEvidenceValueError, ImpossibleEvidenceError, InferenceLimitError
        As for :func:`numbdx.infer`.

    Examples
    --------
    >>> import numbdx
    >>> from numbdx._explain import explain
    >>> why = explain(None, {"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True})
    >>> why["atherosclerosis"]["smoking"].direction
    'for'
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(repr(q) for q in QUANTITIES)}, got {quantity!r}")
    if model is None:
        from ._api import load_model

        model = load_model()
    elif not isinstance(model, Model):  # explain(evidence) with the arguments the wrong way round
        raise TypeError(f"model must be a numbdx.Model or None, got {type(model).__name__}")
    selected = _cause_indices(model, causes)
    ev = normalise(model, {} if evidence is None else evidence)
    items = [name for name in ev.values if include_assumed or name not in ev.assumed]

    # Row 0 is e; each item maps to the rows whose mixture is e without it.
    rows: list[Evidence] = [ev]
    parts: dict[str, list[int]] = {}
    for item in items:
        if item != CHIEF_COMPLAINT:
            rows.append(normalise(model, _without(ev.values, item)))
            parts[item] = [len(rows) - 1]
            continue
        parts[item] = [0]  # e itself is one part: the complaint as it is
        other = not ev.values[CHIEF_COMPLAINT]
        try:
            rows.append(normalise(model, {**_without(ev.values, item), CHIEF_COMPLAINT: other}))
            parts[item].append(len(rows) - 1)
        except ImpossibleEvidenceError:
            pass  # the other part is impossible: the evidence already implies the complaint

    answer = infer_codes(model, codes_from_evidence(model, rows), with_prior=False)
    if answer.failure[0] is not None:
        raise answer.failure[0]
    table = getattr(answer, quantity)
    without: dict[str, np.ndarray] = {}
    bounds: dict[str, float] = {}
    for item, members in parts.items():
        usable = []
        for r in members:
            failure = answer.failure[r]
            if isinstance(failure, ImpossibleEvidenceError):
                continue  # a part of the mixture with probability zero
            if failure is not None:
                raise InferenceLimitError(f"cannot weigh evidence {item!r}: {failure}") from failure
            usable.append(r)
        if len(usable) == 1:
            without[item] = table[usable[0]]
        else:  # the complaint made unknown: weight each part by P(evidence, part)
            mass = answer.evidence_probability[usable]
            without[item] = (table[usable] * mass[:, None]).sum(axis=0) / mass.sum()
        bounds[item] = float(answer.error_bound[usable].max())

    if selected is None:
        selected = sorted(
            range(len(model.causes)),
            key=lambda c: (-answer.explains[0, c], -answer.posterior[0, c], model.causes[c].name),
        )
    order = {name: k for k, name in enumerate(ev.values)}
    bound_e = float(answer.error_bound[0])
    explained = []
    for c in selected:
        p = float(table[0, c])
        weights = []
        for item in items:
            q = float(without[item][c])
            weights.append(_weight(item, ev, p, q, bound_e, bounds[item]))
        weights.sort(key=lambda w: (-abs(w.log_odds_change), order[w.item]))
        cause = model.causes[c]
        explained.append(CauseExplanation(cause.name, cause.label, p, tuple(weights)))
    return Explanation(
        causes=tuple(explained),
        quantity=quantity,
        definition=DEFINITION.format(quantity=QUANTITIES[quantity]),
        evidence=dict(ev.values),
        assumed=ev.assumed,
        error_bound=max([bound_e, *bounds.values()]),
        model_identity=dict(model.identity),
    )


def _weight(item: str, ev: Evidence, p: float, q: float, bound_p: float, bound_q: float) -> EvidenceWeight:
    """The weight of ``item`` from P(c | e) = ``p`` and P(c | e without it) = ``q``."""
    # Equal probabilities, both 0 or both 1 included, mean the item changes nothing: 0, not inf - inf.
    change = 0.0 if p == q else _logit(p) - _logit(q)
    # The sign of p - q is the sign of the log-odds change; within the rounding bounds it is unknown.
    # A probability of exactly 0 or 1 is taken as exact (see _logit_error), so then the neutral band
    # and log_odds_error agree: neutral implies |log_odds_change| <= log_odds_error.
    slack = sum(b for x, b in ((p, bound_p), (q, bound_q)) if x not in (0.0, 1.0))
    if abs(p - q) <= slack:
        direction: Literal["for", "against", "neutral"] = "neutral"
    else:
        direction = "for" if p > q else "against"
    return EvidenceWeight(
        item=item,
        value=ev.values[item],
        log_odds_change=change,
        probability_change=p - q,
        direction=direction,
        probability_without=q,
        assumed=item in ev.assumed,
        log_odds_error=_logit_error(p, bound_p) + _logit_error(q, bound_q),
    )
