"""How sure: the differential when every number of the knowledge base varies within its range.

Every number in ``priors/`` has a value and a plausible range. :func:`uncertainty` draws parameter
sets, each number independently from a triangular distribution on ``[low, high]`` with its mode at the
value, on the log-odds scale for probabilities strictly inside (0, 1) and on the log scale for odds
ratios (the scales on which the articles' verbal qualifiers and published ranges are symmetric-ish);
context priors are renormalised after drawing. All draws are scored in one batched exact computation:
each draw is a row of the engine with its own tables (``RowTables``), so 1,000 draws cost about as much
as 1,000 patients with the same evidence.

Reported: each cause's 5th-95th percentile and how often it ranks first; a tornado list (the numbers
whose move to either end of their range moves the top cause most); and, for the top cause, the smallest
single-number move (as a fraction of the way from the value to an end of its range) that makes another
cause rank first, found on a grid and refined by bisection.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import _engine as eng
from ._display import fallback_html
from ._evidence import normalise
from ._exceptions import InferenceLimitError
from ._model import Model
from ._priors import Number

QUANTITIES = ("explains", "posterior")
FLIP_GRID = 8  # points per side of each number's range in the rank-flip search
FLIP_BISECTIONS = 8
MAX_TERMS = 4096  # exact terms per draw; more positives than this allows are refused
CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class Parameter:
    """One number of the knowledge base as it enters the model."""

    name: str  # what it is: "baseline of stroke", "link stroke -> speech_disturbance" ...
    number: Number

    @property
    def kind(self) -> str:
        return "odds_ratio" if self.name.startswith("odds ratio") else "probability"


class _Parameters:
    """Every number the model uses, and how to build the model's tables from a matrix of values
    ``theta (S, P)`` (one row per parameter set)."""

    def __init__(self, model: Model) -> None:
        kb = model.knowledge
        self.model = model
        self.params: list[Parameter] = []
        index: dict[int, int] = {}

        def add(name: str, number: Number) -> int:
            if id(number) not in index:
                index[id(number)] = len(self.params)
                self.params.append(Parameter(name, number))
            return index[id(number)]

        self.age = [add(f"age prior {band}", n) for band, n in zip(kb.age_bands, kb.age_prior)]
        self.sex = [add(f"sex prior {s}", n) for s, n in zip(kb.sex_states, kb.sex_prior)]
        rf_by_name = {r.name: r for r in kb.risk_factors}
        self.upper_cells: list[np.ndarray | None] = [None, None]
        for var in model.upper[2:]:
            rf = rf_by_name[var.name]
            shape = var.table.shape[:-1]
            cells = np.zeros(shape, dtype=np.int64)
            for idx in np.ndindex(*shape) if shape else [()]:
                context = {model.upper[p].name: model.upper[p].states[i] for p, i in zip(var.parents, idx)}
                best, best_size, label = rf.prior, 0, f"prior of {rf.name}"
                for when, number in rf.overrides:
                    if all(context.get(k) == v for k, v in when.items()) and len(when) > best_size:
                        best, best_size = number, len(when)
                        label = f"prior of {rf.name} ({', '.join(f'{k}={v}' for k, v in when.items())})"
                cells[idx] = add(label, best)
            self.upper_cells.append(cells)

        cause_by_name = {c.name: c for c in kb.causes}
        self.causes = []  # per cause: baseline index, odds-ratio indices, active (cells, n_or), zero (cells,)
        for node in model.causes:
            cause = cause_by_name[node.name]
            names = [model.upper[p].name for p in node.parents]
            shape = node.p_present.shape
            base = add(f"baseline of {cause.name}", cause.baseline)
            ors = [add(f"odds ratio of {cause.name} for {o.factor}", o.odds_ratio) for o in cause.odds_ratios]
            cells = list(np.ndindex(*shape)) if shape else [()]
            active = np.zeros((len(cells), len(ors)))
            zero = np.zeros(len(cells), dtype=bool)
            for k, idx in enumerate(cells):
                state = {n: model.upper[model.upper_index[n]].states[i] for n, i in zip(names, idx)}
                zero[k] = any(state[r] != "True" for r in cause.requires)
                for j, o in enumerate(cause.odds_ratios):
                    kind, _, value = o.factor.partition(":")
                    active[k, j] = state[kind] == value if value else state[o.factor] == "True"
            self.causes.append((base, np.array(ors, dtype=np.int64), active, zero, shape))

        n_findings, n_causes = len(model.findings), len(model.causes)
        self.leak = np.full(n_findings, -1)
        for i, f in enumerate(model.findings):
            if f.kind != "side":
                self.leak[i] = add(f"leak of {f.name}", {x.name: x for x in kb.findings}[f.name].leak)
        self.link = np.full((n_findings, n_causes), -1)
        for link in kb.links:
            if link.cause in model.cause_index and link.finding in model.finding_index:
                c, i = model.cause_index[link.cause], model.finding_index[link.finding]
                self.link[i, c] = add(f"link {link.cause} -> {link.finding}", link.p)
        self.side_p = np.full(n_causes, -1)
        self.side_u = np.full(n_causes, -1)
        for side in kb.sides:
            if side.cause in model.cause_index:
                c = model.cause_index[side.cause]
                self.side_p[c] = add(f"activation of the numbness by {side.cause}", side.p)
                self.side_u[c] = add(f"one-sided numbness from {side.cause}", side.unilateral)

        self.value = np.array([p.number.value for p in self.params])
        self.low = np.array([p.number.low for p in self.params])
        self.high = np.array([p.number.high for p in self.params])
        odds = np.array([p.kind == "odds_ratio" for p in self.params])
        # the log-odds scale where the range is strictly inside (0, 1); the log scale for odds ratios
        self.logit = ~odds & (self.low > 0) & (self.high < 1)
        self.log = odds & (self.low > 0)

    # --- scales -----------------------------------------------------------------------------------
    def to_scale(self, x: np.ndarray, p: int | slice = slice(None)) -> np.ndarray:
        """``x`` (values of the numbers ``p``, all by default) on each number's scale."""
        logit, log = self.logit[p], self.log[p]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(logit, np.log(x / (1 - x)), np.where(log, np.log(x), x))

    def from_scale(self, y: np.ndarray, p: int | slice = slice(None)) -> np.ndarray:
        """The inverse of :meth:`to_scale`."""
        logit, log = self.logit[p], self.log[p]
        with np.errstate(over="ignore"):
            return np.where(logit, 1 / (1 + np.exp(-y)), np.where(log, np.exp(y), y))

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, P)`` draws: triangular on ``[low, high]`` with mode at the value, on each number's scale."""
        a, c, b = self.to_scale(self.low), self.to_scale(self.value), self.to_scale(self.high)
        width = b - a
        u = rng.random((n, len(self.params)))
        with np.errstate(divide="ignore", invalid="ignore"):
            cut = np.where(width > 0, (c - a) / width, 0.0)
            left = a + np.sqrt(u * width * (c - a))
            right = b - np.sqrt((1 - u) * width * (b - c))
        y = np.where(width > 0, np.where(u < cut, left, right), c)
        return np.clip(self.from_scale(y), self.low, self.high)

    # --- tables -----------------------------------------------------------------------------------
    def tables(self, theta: np.ndarray) -> eng.RowTables:
        n = len(theta)
        age = theta[:, self.age]
        sex = theta[:, self.sex]
        upper = [age / age.sum(axis=1, keepdims=True), sex / sex.sum(axis=1, keepdims=True)]
        for cells in self.upper_cells[2:]:
            p = theta[:, cells]
            upper.append(np.stack([1 - p, p], axis=-1))
        p_present = []
        for base, ors, active, zero, shape in self.causes:
            b = theta[:, base]
            logit = np.log(b / (1 - b))[:, None] + np.log(theta[:, ors]) @ active.T
            p = np.where(zero[None, :], 0.0, 1 / (1 + np.exp(-logit)))
            p_present.append(p.reshape((n, *shape)))
        link = np.where(self.link[None] >= 0, theta[:, np.maximum(self.link, 0)], 0.0)
        leak = np.where(self.leak[None] >= 0, theta[:, np.maximum(self.leak, 0)], 0.0)
        has_side = self.side_p >= 0
        activation = np.where(has_side[None], theta[:, np.maximum(self.side_p, 0)], 0.0)
        u = np.where(has_side[None], theta[:, np.maximum(self.side_u, 0)], 0.0)
        side_subset = np.stack([np.zeros_like(u), u / 2, u / 2, has_side[None] * np.ones_like(u)], axis=1)
        return eng.RowTables(upper, p_present, activation, side_subset, link, leak)


def _parameters(model: Model) -> _Parameters:
    cached = model.__dict__.get("_parameters")
    if cached is None:
        cached = model.__dict__["_parameters"] = _Parameters(model)
    return cached


# --- scoring many parameter sets for one patient ------------------------------------------------------


def _choices(tables: eng.RowTables, model: Model, f: int, code: int) -> tuple[np.ndarray, ...]:
    """Per-row ``coef (R, w)`` and ``absent, present, not_activated (R, w, C)`` of finding ``f`` observed
    as ``code``: the engine's expansion (:func:`_engine.two_pattern_terms`) with each row's numbers."""
    ordered = code == eng.ORDERED or (code == 1 and not eng._compile(model).signed[f])
    return eng.two_pattern_terms(tables.link[:, f, :], tables.leak[:, f], model.findings[f].parents, code, ordered)


def _score(model: Model, codes: eng.Codes, theta: np.ndarray, params: _Parameters) -> np.ndarray:
    """``(S, 2C)``: presence and "explains" probabilities of every cause for each parameter set."""
    compiled = eng._compile(model)
    n_causes = len(model.causes)
    findings, side = codes.findings[0], int(codes.side[0])
    observed = [(int(f), int(findings[f])) for f in np.flatnonzero(findings >= 0)]
    n_terms = eng.row_terms(compiled, findings, side)
    if n_terms > MAX_TERMS:
        raise InferenceLimitError(
            f"this evidence needs {n_terms:.0f} exact terms per parameter set (more than {MAX_TERMS}); "
            "parameter uncertainty is computed for evidence with fewer positive findings"
        )
    out = np.empty((len(theta), 2 * n_causes))
    step = max(1, CHUNK_ELEMENTS // max(1, int(n_terms) * compiled.widest))
    for start in range(0, len(theta), step):
        tables = params.tables(theta[start : start + step])
        n = len(tables.leak)
        blocks = []
        for in_gated in (True, False):
            coef = np.ones((n, 1))
            vectors = [np.ones((n, 1, n_causes)) for _ in range(3)]
            for f, code in observed:
                if bool(compiled.gated[f]) != in_gated:
                    continue
                new_coef, *new = _choices(tables, model, f, code)
                coef = (coef[:, :, None] * new_coef[:, None, :]).reshape(n, -1)
                vectors = [(v[:, :, None, :] * w[:, None, :, :]).reshape(n, -1, n_causes) for v, w in zip(vectors, new)]
            blocks.append((coef, *vectors))
        coef, absent, present, active = eng._combine(model, compiled, side, blocks[0], blocks[1], np.float64, tables)
        upper = np.repeat(codes.upper, n, axis=0)
        plan, priors, causes = eng._factors(model, compiled, upper, np.float64, tables)
        stacked = eng._stack_tables(priors, causes)
        total, _ = eng._eliminate_batch(plan, stacked, absent, present, active, np.float64, coef=coef)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + n] = np.clip(total[:, 1:] / total[:, :1], 0.0, 1.0)
    return out


# --- results ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CauseUncertainty:
    """One cause: its probability with the shipped numbers, its 5th-95th percentile over the draws,
    and the share of draws in which it ranks first."""

    name: str
    label: str
    probability: float
    low: float
    high: float
    ranks_first: float


@dataclass(frozen=True)
class Sensitivity:
    """One number moved to each end of its range, the rest at their values: the top cause's
    probability at either end and the swing between them."""

    parameter: str
    value: float
    low: float
    high: float
    at_low: float
    at_high: float
    swing: float
    source: str


@dataclass(frozen=True)
class RankFlip:
    """The smallest move of one number that makes ``new_top`` rank above the top cause: ``fraction``
    of the way from its value to an end of its range (its scale), reaching ``needed``."""

    parameter: str
    value: float
    needed: float
    fraction: float
    new_top: str
    source: str


@dataclass(frozen=True)
class Uncertainty:
    """What :func:`uncertainty` returns; see its docstring for the definitions."""

    quantity: str
    n_samples: int
    seed: int
    top: str
    causes: tuple[CauseUncertainty, ...]
    tornado: tuple[Sensitivity, ...]
    flip: RankFlip | None

    def __getitem__(self, name: str) -> CauseUncertainty:
        for c in self.causes:
            if c.name == name:
                return c
        raise KeyError(f"no cause named {name!r} in this result")

    def to_dict(self) -> dict[str, Any]:
        return {
            "quantity": self.quantity,
            "n_samples": self.n_samples,
            "seed": self.seed,
            "top": self.top,
            "causes": [asdict(c) for c in self.causes],
            "tornado": [asdict(t) for t in self.tornado],
            "flip": None if self.flip is None else asdict(self.flip),
        }

    def __repr__(self) -> str:
        lines = [f"<numbdx.Uncertainty: {self.n_samples} parameter draws, {self.quantity}, top {self.top}>"]
        for c in self.causes[:8]:
            lines.append(
                f"  {c.name:<28} {c.probability:7.2%}  90% [{c.low:7.2%}, {c.high:7.2%}]  first in {c.ranks_first:6.1%}"
            )
        if self.tornado:
            lines.append(f"  most influential numbers for {self.top}:")
            lines += [f"    {t.parameter:<58} {t.at_low:7.2%} .. {t.at_high:7.2%}" for t in self.tornado[:5]]
        if self.flip is None:
            lines.append("  no single number within its range makes another cause rank first")
        else:
            f = self.flip
            lines.append(
                f"  {f.new_top} ranks first if {f.parameter} moves {f.fraction:.0%} of the way to "
                f"{f.needed:.4g} (from {f.value:.4g})"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        try:
            rows = "".join(
                f"<tr><td>{html.escape(c.label)}</td><td>{c.probability:.1%}</td><td>{c.low:.1%} - {c.high:.1%}"
                f"</td><td>{c.ranks_first:.0%}</td></tr>"
                for c in self.causes[:10]
            )
            return (
                "<div><table><thead><tr><th>cause</th><th>probability</th><th>90% over the ranges</th>"
                f"<th>ranks first</th></tr></thead><tbody>{rows}</tbody></table></div>"
            )
        except Exception:  # a repr must never raise in a notebook
            return fallback_html(self)


def uncertainty(
    evidence: Mapping[str, Any] | None = None,
    *,
    model: Model | None = None,
    n_samples: int = 1000,
    seed: int = 0,
    quantity: str = "explains",
    interval: tuple[float, float] = (0.05, 0.95),
    tornado_size: int = 10,
) -> Uncertainty:
    """How much the hand-set numbers' ranges move the differential for ``evidence``.

    Parameters
    ----------
    evidence
        As for :func:`numbdx.infer`.
    model
        The model; the shipped one by default.
    n_samples
        Parameter sets to draw (each number independently, triangular on its range with the mode at
        its value, on the log-odds scale for probabilities and the log scale for odds ratios).
    seed
        Seed of the draws: the same seed gives the same result.
    quantity
        ``"explains"`` (the ranking quantity of :class:`Differential`) or ``"posterior"``.
    interval
        Percentiles reported as ``low`` and ``high`` (as fractions).
    tornado_size
        How many of the most influential numbers to list.

    Returns
    -------
    Uncertainty
        ``causes``: per cause, the probability with the shipped numbers, the ``interval`` percentiles
        over the draws and the share of draws in which it ranks first (ties go to model order);
        ``tornado``: the numbers whose move to either end of their range changes the top cause's
        probability most, largest swing first; ``flip``: the smallest single-number move that makes
        another cause rank first (as a fraction of the way from the value to the end of its range,
        on its scale; grid of 8 points per side refined by 8 bisections, over the numbers that change
        some probability at an end of their range), or None if none exists.

    Raises
    ------
    InferenceLimitError
        The evidence needs more than 4,096 exact terms per draw (about 10 positive findings).
    """
    from ._api import load_model

    model = model if model is not None else load_model()
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    low_q, high_q = interval
    if not 0 <= low_q < high_q <= 1:
        raise ValueError(f"interval must be two fractions 0 <= low < high <= 1, got {interval!r}")
    ev = normalise(model, {} if evidence is None else evidence)
    codes = eng.codes_from_evidence(model, [ev])
    exact = eng.infer_codes(model, codes, with_prior=False, method="exact")
    if exact.failure[0] is not None:
        raise exact.failure[0]
    params = _parameters(model)
    n_causes = len(model.causes)
    column = slice(n_causes, None) if quantity == "explains" else slice(0, n_causes)
    point = (exact.explains if quantity == "explains" else exact.posterior)[0]
    top = int(np.argmax(point))

    draws = _score(model, codes, params.sample(n_samples, np.random.default_rng(seed)), params)[:, column]
    low, high = np.quantile(draws, [low_q, high_q], axis=0)
    first = np.bincount(np.argmax(draws, axis=1), minlength=n_causes) / n_samples
    causes = tuple(
        sorted(
            (
                CauseUncertainty(c.name, c.label, float(point[i]), float(low[i]), float(high[i]), float(first[i]))
                for i, c in enumerate(model.causes)
            ),
            key=lambda c: (-c.probability, c.name),
        )
    )

    movable = np.flatnonzero(params.high > params.low)
    ends = np.repeat(params.value[None], 2 * len(movable), axis=0)
    ends[np.arange(len(movable)) * 2, movable] = params.low[movable]
    ends[np.arange(len(movable)) * 2 + 1, movable] = params.high[movable]
    at_ends = _score(model, codes, ends, params)[:, column]
    at_low, at_high = at_ends[0::2, top], at_ends[1::2, top]
    swing = np.abs(at_high - at_low)
    tornado = tuple(
        Sensitivity(
            parameter=params.params[p].name,
            value=float(params.value[p]),
            low=float(params.low[p]),
            high=float(params.high[p]),
            at_low=float(at_low[k]),
            at_high=float(at_high[k]),
            swing=float(swing[k]),
            source=params.params[p].number.where,
        )
        for k in np.argsort(-swing, kind="stable")[:tornado_size]
        for p in [movable[k]]
        if swing[k] > 0
    )
    # A number whose move to either end changes no probability (the link of a finding not in the
    # evidence, say) cannot change the ranking anywhere in between: it enters no computation.
    effect = np.abs(at_ends - point[None, :]).max(axis=1).reshape(-1, 2).max(axis=1)
    flip = _flip(model, codes, params, movable[effect > 1e-12], top, column)
    return Uncertainty(quantity, n_samples, seed, model.causes[top].name, causes, tornado, flip)


def _flip(
    model: Model, codes: eng.Codes, params: _Parameters, movable: np.ndarray, top: int, column: slice
) -> RankFlip | None:
    """Grid search over every movable number's range for the smallest move that dethrones ``top``."""
    scaled_value = params.to_scale(params.value)
    fractions = np.arange(1, FLIP_GRID + 1) / FLIP_GRID

    def at(p: int, end: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        theta = np.repeat(params.value[None], len(fraction), axis=0)
        y = scaled_value[p] + fraction * (params.to_scale(end[p], p) - scaled_value[p])
        theta[:, p] = params.from_scale(y, p)
        return theta

    rows, labels = [], []
    for p in movable:
        for end in (params.low, params.high):
            rows.append(at(p, end, fractions))
            labels += [(p, id(end) == id(params.low), f) for f in fractions]
    scores = _score(model, codes, np.concatenate(rows), params)[:, column]
    dethroned = np.argmax(scores, axis=1) != top
    if not dethroned.any():
        return None
    best = min((labels[k][2], k) for k in np.flatnonzero(dethroned))[1]
    p, to_low, hi = labels[best]
    end = params.low if to_low else params.high
    lo = hi - 1 / FLIP_GRID
    for _ in range(FLIP_BISECTIONS):  # lo does not dethrone (or is the value), hi does
        mid = (lo + hi) / 2
        s = _score(model, codes, at(p, end, np.array([mid])), params)[0, column]
        if int(np.argmax(s)) != top:
            hi = mid
        else:
            lo = mid
    theta = at(p, end, np.array([hi]))
    new_top = int(np.argmax(_score(model, codes, theta, params)[0, column]))
    return RankFlip(
        parameter=params.params[p].name,
        value=float(params.value[p]),
        needed=float(theta[0, p]),
        fraction=float(hi),
        new_top=model.causes[new_top].name,
        source=params.params[p].number.where,
    )
