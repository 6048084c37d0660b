"""Exact inference for many positive findings: the findings' choices eliminated as variables.

Quickscore (:mod:`numbdx._engine`) writes the evidence as a signed sum over *terms*, one choice per
finding, and eliminates the upper layer once per term: ``2**k`` eliminations for ``k`` positives.
Each term is a product over causes, and a cause's multipliers depend only on the choices of the
findings it can produce. So the sum over terms is itself a sum over discrete variables: one per
finding with more than one choice (``X_f``, whose states are its choices), and the cause's factor
after summing the cause out,

``g_c(u, x) = alpha_c(u) A_c(x) + beta_c(u) P_c(x) [(1 - s_c) N_c(x) + s_c S_c(x) G_c(x)]``

(``A``: the absent multipliers, ``P`` the other findings' present ones, ``N`` and ``G`` the gated
findings' not-activated and produced ones, ``S`` the side finding's, each a product over the
findings that vary for ``c``), is a table over the cause's upper-layer scope and those ``X_f``.
Variable elimination over the upper layer and the ``X_f`` together (greedy smallest-table order)
then costs the sizes of its tables, not ``2**k`` times the upper layer: on the full model, the
benchmarks' 20 positives take tables of 242,000 entries in all (the largest 65,536) where Quickscore
needs 524,288 terms of about 150 products each. The cost is known from the order before any
arithmetic; past ``MAX_WORK`` or ``MAX_TABLE_ENTRIES`` the row is refused. Every positive is expanded with signs (two
choices) unless its ordered expansion has no more choices (at most two causes); the cancellation
that brings is what double-double is for.

Arithmetic: double-double in numpy (Dekker's product, the IEEE-style sum of Hida, Li and Bailey;
compiled where the ``numba`` kernels run, the same numbers bit for bit), from inputs within
double-double rounding of the model's numbers: the upper layer's tables made in rationals
(``_engine._exact_factors``' route), the choices' float64 numbers as the model defines them.
``P(cause present, e)`` and ``P(cause producing the numbness, e)`` come from one backward pass: the
cavity ``dZ/dg_c`` of each cause factor, summed against that factor's present or active part.

Precision: every value is a sum of signed monomials (products of inputs) computed along a tree of
operations; each one's computed value is exact times ``(1 + theta)`` with ``|theta| <= depth * eps``
for ``depth`` roundings on its path, so the error of a sum is at most ``depth * eps`` times the same
sum over the monomials' absolute values. That sum is this elimination run again on the inputs'
absolute values (float64, all terms non-negative, so its own rounding is relative and small). The
depth is counted as the elimination runs, and the engine's :func:`numbdx._engine._bounded_in`
turns both sums into each posterior's bound, as it does for Quickscore's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType

import numpy as np

from . import _engine, _kernel
from ._exceptions import ImpossibleEvidenceError, InferenceLimitError
from ._model import Model

# What one row's elimination may cost, known from its order before any arithmetic (:class:`_Plan`);
# past either limit the row is refused, and sampled where the method allows. Time follows the work
# (each step's table entries times its operands) until the tables outgrow the cache: measured on the
# full model, one core, double-double compiled / numpy, the answer alone: the k sweep's 20 positives
# (work 0.77 million, largest table 65,536) 35 / 104 ms; 20 positives of tests/test_sampling.py's
# patient but one (6.7 million, 524,288) 0.26 / 0.78 s; the k sweep's 20 with the age alone known
# (15.9 million, 1,048,576) 2.9 / 10.6 s, where sampling took 1.0 / 2.0 s
MAX_WORK = 1 << 23
MAX_TABLE_ENTRIES = 1 << 19
# the re-checks' sets (the triage's, ``_engine.LeftOut``) answered with the evidence: each set adds
# about the evidence's work again (15 sets of 1.0 million each took about 1 s compiled). Past
# LEFT_OUT_WORK in all, they are left to the triage, which infers each reduced evidence where it
# needs it; LEFT_OUT_BATCH_ENTRIES bounds one batched pass's tables (16 bytes per entry in either
# arithmetic, every step's output kept for the backward pass), the sets going in groups below it
LEFT_OUT_WORK = 1 << 24
LEFT_OUT_BATCH_ENTRIES = 1 << 22
ORDER_CACHE = 256  # elimination orders kept per model (:func:`_cached_order`)
SPLITTER = 134217729.0  # 2**27 + 1: Dekker's split of a float64 into two 26-bit halves


# --- double-double arithmetic on numpy arrays -------------------------------------------------------


@dataclass
class _Value:
    """An array in the elimination's arithmetic: ``hi + lo`` (``lo`` None in float64) and the most
    roundings on any path from the inputs to an entry (``depth``)."""

    hi: np.ndarray
    lo: np.ndarray | None
    depth: int

    def reshape(self, shape: tuple[int, ...]) -> _Value:
        return _Value(self.hi.reshape(shape), None if self.lo is None else self.lo.reshape(shape), self.depth)


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = SPLITTER * a
    high = t - (t - a)
    return high, a - high


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` as ``p + e`` exactly (Dekker 1971; no fma in numpy)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


# the compiled double-double operations (``_numba_kernels.dd_mul``, ``dd_add``) where the
# kernels are in use, set by each :func:`sums`: the same operations in the same order, so the same
# numbers as numpy's below, bit for bit (tested), about ten times faster on large tables. Being
# interchangeable, a thread's call may run on either whatever another thread set
_compiled: ModuleType | None = None


def _mul(a: _Value, b: _Value) -> _Value:
    if a.lo is None:
        return _Value(a.hi * b.hi, None, max(a.depth, b.depth) + 1)
    if _compiled is not None:
        return _Value(*_compiled.dd_mul(a.hi, a.lo, b.hi, b.lo), max(a.depth, b.depth) + 1)
    p, e = _two_prod(a.hi, b.hi)
    e = e + (a.hi * b.lo + a.lo * b.hi)
    hi = p + e
    return _Value(hi, e - (hi - p), max(a.depth, b.depth) + 1)


def _add(a: _Value, b: _Value) -> _Value:
    """The sum, accurate whatever the signs."""
    if a.lo is None:
        return _Value(a.hi + b.hi, None, max(a.depth, b.depth) + 1)
    if _compiled is not None:
        return _Value(*_compiled.dd_add(a.hi, a.lo, b.hi, b.lo), max(a.depth, b.depth) + 1)
    s, e = _two_sum(a.hi, b.hi)
    t, f = _two_sum(a.lo, b.lo)
    e = e + t
    hi = s + e
    e = e - (hi - s) + f
    s = hi + e
    return _Value(s, e - (s - hi), max(a.depth, b.depth) + 1)


def _take(a: _Value, axis: int, k: int) -> _Value:
    index = (slice(None),) * axis + (slice(k, k + 1),)
    return _Value(a.hi[index], None if a.lo is None else a.lo[index], a.depth)


def _sum_axis(a: _Value, axis: int) -> _Value:
    """Sum over ``axis`` (kept with size 1), left to right."""
    total = _take(a, axis, 0)
    for k in range(1, a.hi.shape[axis]):
        total = _add(total, _take(a, axis, k))
    return total


def _exact_value(x: np.ndarray | float, arithmetic: str) -> _Value:
    """Float64 numbers as inputs, exact in every arithmetic (``lo`` zero in double-double)."""
    if arithmetic == "extended":
        return _Value(np.asarray(x, dtype=np.longdouble), None, 0)
    hi = np.asarray(x, dtype=np.float64)
    return _Value(hi, np.zeros_like(hi) if arithmetic == "double_double" else None, 0)


def _one_minus(x: np.ndarray, arithmetic: str) -> _Value:
    """``1 - x``: exact in double-double (two-sum), rounded once otherwise."""
    if arithmetic == "double_double":
        s, e = _two_sum(np.ones_like(x), -x)
        return _Value(s, e, 0)
    if arithmetic == "extended":
        return _Value(1 - x.astype(np.longdouble), None, 1)
    return _Value(np.abs(1.0 - x), None, 1)


# --- the factors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Factor:
    scope: tuple[int, ...]  # sorted variable ids; the table's axes in this order
    value: _Value


@dataclass(frozen=True)
class _Problem:
    """One row's elimination: the variables' cards, the factors (priors and choices first, then one
    per cause), and each cause factor's present and active parts over the same scope."""

    cards: dict[int, int]
    factors: list[_Factor]
    first_cause: int
    present: list[_Value]
    active: list[_Value]


def _recoded(compiled: _engine._Compiled, findings: np.ndarray) -> np.ndarray:
    """Positives expanded in order with more than two choices re-coded SIGNED (two choices)."""
    findings = findings.copy()
    narrower = compiled.width[:, _engine.SIGNED] < compiled.width[:, 1]
    findings[(findings == 1) & narrower & ~compiled.signed] = _engine.SIGNED
    return findings


def _exact_upper(model: Model, compiled: _engine._Compiled, upper: np.ndarray) -> tuple[list, list]:
    """The upper layer's factors for one context, made in rationals and rounded once to
    double-double: priors ``(scope, (hi, lo))`` and causes ``(scope, alpha, beta)``; cached per model."""
    cache = model.__dict__.setdefault("_choice_upper_cache", {})
    key = upper.tobytes()
    if key not in cache:
        if len(cache) >= _engine.FACTOR_CACHE_SIZE:
            cache.clear()
        _, priors, causes = _engine._factors(model, compiled, upper[None], object, _engine._exact_tables(model))

        def dd(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            flat = table.reshape(-1)
            high = np.array([float(v) for v in flat])
            low = np.array([float(v - Fraction(h)) for v, h in zip(flat, high)])
            return high, low

        cache[key] = (
            [(scope, dd(table)) for scope, table in priors],
            [(scope, dd(alpha), dd(beta)) for scope, alpha, beta in causes],
        )
    return cache[key]


def _problem(
    model: Model,
    upper: np.ndarray,
    findings: np.ndarray,
    side: int,
    arithmetic: str,
    left_out: Sequence[Sequence[int]] = (),
) -> _Problem:
    """The factors of one row: ``upper (U,)`` states or -1, ``findings (F,)`` codes, ``side`` its side
    code. ``arithmetic``: ``"double_double"`` from inputs within double-double rounding,
    ``"extended"`` (``np.longdouble``, the triage's re-checks, whose target is looser), or
    ``"absolute"``: float64 on the inputs' absolute values (the bound's sums over ``|monomials|``).
    ``left_out``: sets of findings to answer without, each a positive with two choices here (see
    :func:`left_out_sets`): every table gains a leading axis, entry ``i`` the evidence without set
    ``i``; without them that axis has one entry, the whole evidence."""
    compiled = _engine._compile(model)
    findings = _recoded(compiled, findings)
    n_causes = len(model.causes)
    cards = {v: c for v, c in enumerate(compiled.upper_cards)}

    def value(x: np.ndarray) -> _Value:
        return _exact_value(np.abs(x) if arithmetic == "absolute" else x, arithmetic)

    priors_dd, causes_dd = _exact_upper(model, compiled, upper)

    def table(scope: tuple[int, ...], parts: tuple[np.ndarray, np.ndarray]) -> _Value:
        shape = (1, *(cards[v] for v in scope))
        if arithmetic == "double_double":
            return _Value(parts[0].reshape(shape), parts[1].reshape(shape), 1)
        if arithmetic == "extended":
            return _Value((parts[0].astype(np.longdouble) + parts[1]).reshape(shape), None, 1)
        return _Value(np.abs(parts[0]).reshape(shape), None, 1)

    factors = [_Factor(tuple(scope), table(scope, parts)) for scope, parts in priors_dd]
    # per cause: constants and, per X variable, the vectors that vary for it
    ones = np.ones(n_causes)
    const = {k: value(ones) for k in ("absent", "present", "not_activated", "produced")}
    varying: list[list[tuple[int, dict[str, np.ndarray]]]] = [[] for _ in range(n_causes)]
    for f in np.flatnonzero(findings >= 0):
        if f == model.side_index:
            continue
        code = int(findings[f])
        width, row = int(compiled.width[f, code]), int(compiled.bank_row[f, code])
        bank = compiled.banks[width]
        coef = bank.coef[row]
        gated = bool(compiled.gated[f])
        vectors = {"absent": bank.absent[row]}
        if gated:
            vectors["not_activated"], vectors["produced"] = bank.not_activated[row], bank.present[row]
        else:
            vectors["present"] = bank.present[row]
        if width == 1:
            factors.append(_Factor((), value(coef.reshape(1))))
            for name, vec in vectors.items():
                const[name] = _mul(const[name], value(vec[0]))
            continue
        var = max(cards) + 1
        cards[var] = width
        factors.append(_Factor((var,), value(_left_out_coef(coef, f, left_out))))
        varies = np.zeros(n_causes, dtype=bool)
        for vec in vectors.values():
            varies |= (vec != vec[:1]).any(axis=0)
        for c in np.flatnonzero(varies):
            varying[c].append((var, {name: vec[:, c] for name, vec in vectors.items()}))
        for name, vec in vectors.items():  # the causes it does not vary for: the same number each choice
            const[name] = _mul(const[name], value(np.where(varies, 1.0, vec[0])))
    # the side finding: Moebius terms over its patterns, each with a coefficient and P(side within S)
    side_terms = compiled.side_terms[side]
    subset_mult = model.findings[model.side_index].subset_mult
    side_pi = np.array([subset_mult[subset] for subset, _ in side_terms])  # (n, C)
    side_coef = np.array([coef for _, coef in side_terms], dtype=np.float64)
    if len(side_terms) == 1:
        factors.append(_Factor((), value(side_coef.reshape(1))))
        const["side"] = value(side_pi[0])
        side_var = None
    else:
        side_var = max(cards) + 1
        cards[side_var] = len(side_terms)
        factors.append(_Factor((side_var,), value(side_coef[None])))
        const["side"] = value(ones)
    activation = model.activation.astype(np.float64)
    not_activation = _one_minus(activation, arithmetic)

    first_cause = len(factors)
    present_parts, active_parts = [], []
    for c, (scope_c, alpha, beta) in enumerate(causes_dd):
        x_vars = [var for var, _ in varying[c]]
        side_varies = side_var is not None and (side_pi[:, c] != side_pi[0, c]).any()
        if side_varies:
            x_vars.append(side_var)
        scope = tuple(scope_c) + tuple(sorted(x_vars))  # upper ids are below every X id
        shape = tuple(cards[v] for v in scope)
        n_scope_upper = len(scope_c)

        def along(var: int, vec: np.ndarray, scope: tuple[int, ...] = scope) -> _Value:
            axis_shape = [1] * (1 + len(scope))
            axis_shape[1 + scope.index(var)] = cards[var]
            return value(vec).reshape(tuple(axis_shape))

        def product(name: str, c: int = c) -> _Value:
            out = _entry(const[name], c)
            for var, parts in varying[c]:
                if name in parts:
                    out = _mul(out, along(var, parts[name]))
            return out

        upper_shape = (1, *shape[:n_scope_upper]) + (1,) * (len(scope) - n_scope_upper)
        a = table(scope_c, alpha).reshape(upper_shape)
        b = table(scope_c, beta).reshape(upper_shape)
        side_c = along(side_var, side_pi[:, c]) if side_varies else _entry(const["side"], c)
        s_c = value(activation[c])
        not_s_c = _entry(not_activation, c)
        active_branch = _mul(_mul(s_c, side_c), product("produced"))
        branches = _add(_mul(not_s_c, product("not_activated")), active_branch)
        others = _mul(b, product("present"))
        present = _broadcast(_mul(others, branches), (1, *shape))
        active = _broadcast(_mul(others, active_branch), (1, *shape))
        g = _broadcast(_add(_mul(a, product("absent")), present), (1, *shape))
        factors.append(_Factor(scope, g))
        present_parts.append(present)
        active_parts.append(active)
    return _Problem(cards, factors, first_cause, present_parts, active_parts)


def _broadcast(a: _Value, shape: tuple[int, ...]) -> _Value:
    hi = np.broadcast_to(a.hi, shape)
    return _Value(hi, None if a.lo is None else np.broadcast_to(a.lo, shape), a.depth)


def _entry(a: _Value, c: int) -> _Value:
    """Entry ``c`` of a vector, as a 0-d value."""
    return _Value(a.hi[c], None if a.lo is None else a.lo[c], a.depth)


# --- the elimination ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """An elimination order and what it costs (one batch entry's)."""

    order: list[int]
    work: int  # each step's product-table entries times its operands, summed
    entries: int  # each step's product-table entries, summed (what the tables hold)
    largest: int  # the largest product table


def _order(scopes: list[tuple[int, ...]], cards: dict[int, int]) -> _Plan:
    """Greedy elimination order: each time the variable whose product table is smallest (ties: the
    fewest fill-in edges, then the lowest id, so the order does not depend on set iteration)."""
    neighbours: dict[int, set[int]] = {v: set() for s in scopes for v in s}
    for s in scopes:
        for v in s:
            neighbours[v].update(s)
    live = [set(s) for s in scopes]  # the factors' scopes as the elimination goes
    order = []
    work = entries = largest = 0
    while neighbours:
        sizes = {}
        for v, near in neighbours.items():
            size = 1
            for u in near:
                size *= cards[u]
            sizes[v] = size
        smallest = min(sizes.values())
        tied = [v for v, size in sizes.items() if size == smallest]
        if len(tied) > 1:  # the fill-in count only where the size ties (it is most of the cost)

            def fill(v: int) -> tuple[int, int]:
                near = neighbours[v]
                return sum(1 for a in near for b in near if a < b and b not in neighbours[a]), v

            v = min(tied, key=fill)
        else:
            v = tied[0]
        operands = [scope for scope in live if v in scope]
        live = [scope for scope in live if v not in scope]
        live.append(set().union(*operands) - {v})
        work += smallest * len(operands)
        entries += smallest
        largest = max(largest, smallest)
        near = neighbours.pop(v)
        near.discard(v)
        for u in near:
            neighbours[u].update(near)
            neighbours[u].discard(v)
        order.append(v)
    return _Plan(order, work, entries, largest)


def _cached_order(model: Model, scopes: list[tuple[int, ...]], cards: dict[int, int]) -> _Plan:
    """:func:`_order`, kept per model for the last ``ORDER_CACHE`` sets of scopes: a row's three
    passes (signed, absolute, the re-checks) share it, and so do repeated queries."""
    cache = model.__dict__.setdefault("_choice_order_cache", {})
    variables = sorted({v for s in scopes for v in s})
    key = (tuple(scopes), tuple(cards[v] for v in variables))  # a choice's states vary with its code
    found = cache.get(key)
    if found is None:
        found = _order(scopes, cards)
        if len(cache) >= ORDER_CACHE:
            cache.pop(next(iter(cache), None), None)  # the oldest
        cache[key] = found
    return found


def _refusal(plan: _Plan) -> str | None:
    """What puts ``plan`` past the limits, in words, or None."""
    if plan.largest > MAX_TABLE_ENTRIES:
        return f"a table of {plan.largest:,} entries (more than {MAX_TABLE_ENTRIES:,})"
    if plan.work > MAX_WORK:
        return f"work of {plan.work:,} table entries times operands (more than {MAX_WORK:,})"
    return None


def _aligned(factor: _Factor, union: tuple[int, ...], cards: dict[int, int]) -> _Value:
    """The factor's table with an axis per variable of ``union`` (size 1 outside its scope)."""
    inside = set(factor.scope)
    batch = factor.value.hi.shape[0]
    return factor.value.reshape((batch, *(cards[v] if v in inside else 1 for v in union)))


@dataclass(frozen=True)
class _Step:
    operands: tuple[int, ...]  # factor ids
    union: tuple[int, ...]
    variable: int
    out: int


def _forward(problem: _Problem, order: list[int]) -> tuple[list[_Factor], list[_Step], list[int]]:
    """Eliminate ``order``'s variables; returns every factor (the inputs, then each step's output),
    the steps, and the ids of the scalars left (their product is ``Z``)."""
    cards = problem.cards
    factors = list(problem.factors)
    alive = set(range(len(factors)))
    steps = []
    for v in order:
        operands = tuple(sorted(i for i in alive if v in factors[i].scope))
        union = tuple(sorted(set().union(*(factors[i].scope for i in operands))))
        product = _aligned(factors[operands[0]], union, cards)
        for i in operands[1:]:
            product = _mul(product, _aligned(factors[i], union, cards))
        batch = max(factors[i].value.hi.shape[0] for i in operands)
        product = _broadcast(product, (batch, *(cards[u] for u in union)))
        axis = union.index(v)
        summed = _sum_axis(product, 1 + axis)
        scope = union[:axis] + union[axis + 1 :]
        factors.append(_Factor(scope, summed.reshape((batch, *(cards[u] for u in scope)))))
        steps.append(_Step(operands, union, v, len(factors) - 1))
        alive.difference_update(operands)
        alive.add(len(factors) - 1)
    return factors, steps, sorted(alive)


def _sum_to(a: _Value, union: tuple[int, ...], scope: tuple[int, ...], cards: dict[int, int]) -> _Value:
    """``a`` (over ``union``) summed over the variables outside ``scope``, shaped as ``scope``'s table."""
    inside = set(scope)
    for axis in range(len(union) - 1, -1, -1):
        if union[axis] not in inside and a.hi.shape[1 + axis] > 1:
            a = _sum_axis(a, 1 + axis)
    return a.reshape((a.hi.shape[0], *(cards[v] for v in scope)))


def _cavities(
    problem: _Problem, factors: list[_Factor], steps: list[_Step], last: list[int], asked: Sequence[int]
) -> tuple[_Value, dict]:
    """``Z`` and ``dZ/dF`` for the factors ``asked`` (reverse mode, along the paths to them alone)."""
    first = factors[0].value
    one = _Value(np.ones(1, dtype=first.hi.dtype), None if first.lo is None else np.zeros(1), 0)
    z = one
    for i in last:
        z = _mul(z, factors[i].value)
    grads: dict[int, _Value] = {}
    for k, i in enumerate(last):  # each scalar's cavity: the product of the others
        g = one
        for j in last[:k] + last[k + 1 :]:
            g = _mul(g, factors[j].value)
        grads[i] = g
    cards = problem.cards
    # skip the inputs not asked for and the steps with none of them below
    wanted = set(asked)
    for step in steps:
        if wanted.intersection(step.operands):
            wanted.add(step.out)
    for step in reversed(steps):
        if step.out not in wanted:
            continue
        grad_out = grads.pop(step.out)
        aligned = [_aligned(factors[i], step.union, cards) for i in step.operands]
        n = len(aligned)
        # prefix[i]: the output's cavity times the operands before i; then times those after i
        running = _aligned(_Factor(factors[step.out].scope, grad_out), step.union, cards)
        prefix = [running]
        for a in aligned[: n - 1]:
            running = _mul(running, a)
            prefix.append(running)
        suffix = None
        for i in range(n - 1, -1, -1):
            operand = step.operands[i]
            if operand in wanted:
                cavity = prefix[i] if suffix is None else _mul(prefix[i], suffix)
                cavity = _broadcast(cavity, (cavity.hi.shape[0], *(cards[u] for u in step.union)))
                grads[operand] = _sum_to(cavity, step.union, factors[operand].scope, cards)
            if i > 0 and any(o in wanted for o in step.operands[:i]):
                suffix = aligned[i] if suffix is None else _mul(aligned[i], suffix)
    return z, grads


def _dot(a: _Value, b: _Value) -> _Value:
    """Per batch entry, the sum of the entries of ``a * b`` (one scope), an axis at a time from the last."""
    p = _mul(a, b)
    for axis in range(p.hi.ndim - 1, 0, -1):
        p = _sum_axis(p, axis)
    return p.reshape((p.hi.shape[0],))


@dataclass(frozen=True)
class Sums:
    """One row's sums (:func:`sums`)."""

    total: np.ndarray  # np.longdouble (1, or K with left-out sets; 1 + 2 len(causes))
    depth: int  # the most roundings on any path
    plan: _Plan  # the elimination's order and cost


def sums(
    model: Model,
    upper: np.ndarray,
    findings: np.ndarray,
    side: int,
    arithmetic: str,
    left_out: Sequence[Sequence[int]] = (),
    causes: Sequence[int] | None = None,
    limited: bool = True,
) -> Sums:
    """One row's sums ``P(e)``, then ``P(cause c present, e)`` and ``P(cause c producing the
    numbness, e)`` for each of ``causes`` (default: every cause; the columns of ``_engine._sums``):
    one row, the whole evidence, or with ``left_out`` row ``i`` the evidence without ``left_out[i]``
    (see :func:`_problem`). ``arithmetic``: see :func:`_problem`.

    Raises
    ------
    InferenceLimitError
        ``limited`` and the elimination past ``MAX_WORK`` or ``MAX_TABLE_ENTRIES`` (checked before
        any arithmetic).
    """
    global _compiled
    _compiled = _kernel._kernels() if arithmetic == "double_double" else None
    problem = _problem(model, upper, findings, side, arithmetic, left_out)
    plan = _cached_order(model, [f.scope for f in problem.factors], problem.cards)
    if limited:
        refusal = _refusal(plan)
        if refusal:
            raise InferenceLimitError(
                f"exact inference over the findings' choices needs {refusal}; give fewer positive "
                "findings in one query, or more of the context (age, sex, risk factors)"
            )
    causes = range(len(problem.present)) if causes is None else causes
    factors, steps, last = _forward(problem, plan.order)
    z, grads = _cavities(problem, factors, steps, last, [problem.first_cause + c for c in causes])
    out = [z]
    for part in ("present", "active"):
        for c in causes:
            out.append(_dot(grads[problem.first_cause + c], getattr(problem, part)[c]))
    depth = max(v.depth for v in out)
    batch = max(len(v.hi) for v in out)
    total = np.stack([np.broadcast_to(_longdouble(v), (batch,)) for v in out], axis=1)
    return Sums(total, depth, plan)


# smallest normal float64 times 2**106: below it a double-double's low part loses bits to underflow
UNDERFLOW = np.finfo(np.float64).tiny * 2.0**106


def solve(
    model: Model,
    codes: _engine.Codes,
    rows: np.ndarray,
    out: dict[str, np.ndarray],
    failure: list,
    left_out: _engine.LeftOut | None = None,
) -> None:
    """Fill ``out`` (as ``_engine._solve``: posteriors then explains, evidence probability, error
    bound, terms) for ``rows`` of ``codes``, each eliminated over its findings' choices; set
    ``failure`` for a row refused (past ``MAX_WORK`` or ``MAX_TABLE_ENTRIES``, or a bound past
    ``_engine.MAX_ERROR``) or impossible. ``terms`` holds the Quickscore terms the sum stands for.
    ``left_out`` (one row): where :func:`left_out_sets` allows and the sets' work stays within
    ``LEFT_OUT_WORK``, ``out["left_out"]`` receives each set's answer as
    ``_engine.left_out_answers`` gives them (see :func:`_left_out_answers`)."""
    compiled = _engine._compile(model)
    for r in rows:
        upper, findings, side = codes.upper[r], codes.findings[r], int(codes.side[r])
        try:
            signed = sums(model, upper, findings, side, "double_double")
            absolute_sums = sums(model, upper, findings, side, "absolute")
        except InferenceLimitError as error:
            failure[r] = error
            continue
        # the absolute sums were rounded too (float64, non-negative: relative error depth * eps)
        absolute = absolute_sums.total[0].astype(np.float64)
        absolute *= 1 + 2 * absolute_sums.depth * float(np.finfo(np.float64).eps)
        merged = int(_engine._merged_positives(compiled, _recoded(compiled, findings)))
        total = signed.total[0]
        if absolute[0] == 0:
            failure[r] = ImpossibleEvidenceError(
                "the model gives this evidence probability zero (no combination of causes explains it)"
            )
            continue
        ok, ratios, bound = _engine._bounded_in(
            total[None], absolute[None], float(signed.depth), np.longdouble, True, merged
        )
        if not ok[0] or abs(float(total[0])) < UNDERFLOW or bound[0] > _engine.MAX_ERROR:
            failure[r] = InferenceLimitError(
                "exact inference over the findings' choices lost precision on this evidence (error "
                f"bound above {_engine.MAX_ERROR:g}); give fewer positive findings"
            )
            continue
        out["posterior"][r] = np.clip(ratios[0].astype(np.float64), 0.0, 1.0)
        out["evidence_probability"][r] = float(total[0])
        out["error_bound"][r] = float(bound[0])
        out["terms"][r] = int(min(_engine.row_terms(compiled, findings, side), np.iinfo(np.int64).max))
        if (
            left_out is not None
            and len(rows) == 1
            and len(left_out.subsets) * signed.plan.work <= LEFT_OUT_WORK
            and left_out_sets(model, findings, left_out.subsets)
        ):
            out["left_out"] = _left_out_answers(
                model, upper, findings, side, left_out, absolute, merged, signed.plan.entries
            )


def _left_out_answers(
    model: Model,
    upper: np.ndarray,
    findings: np.ndarray,
    side: int,
    request: _engine.LeftOut,
    absolute: np.ndarray,
    merged: int,
    entries: int,
) -> list[tuple[np.ndarray, float] | None]:
    """Each set of ``request``'s answer (or None past its target), from eliminations of the sets
    together, for the asked causes alone: in double-double where the kernels run it; on numpy in
    ``np.longdouble``, which the re-checks' looser target allows where many positives cancel (at 20
    positives the bound is about 1e-7). Measured at 20 positives and 7 sets: ``np.longdouble`` 83-102
    ms, double-double 336 ms on numpy and 89 ms compiled. The sets go in groups whose tables stay
    within ``LEFT_OUT_BATCH_ENTRIES`` (``entries``: one set's). A set's monomials are among the
    whole evidence's (its findings' choices fixed to "left out"), so the whole evidence's
    ``absolute`` sums bound each set's."""
    n_causes = len(model.causes)
    columns = _engine._left_out_columns(request.causes, n_causes)
    exact = _kernel._kernels() is not None  # compiled double-double, from inputs within its rounding
    arithmetic = "double_double" if exact else "extended"
    group = max(1, LEFT_OUT_BATCH_ENTRIES // max(entries, 1))
    answers: list[tuple[np.ndarray, float] | None] = []
    for start in range(0, len(request.subsets), group):
        subsets = request.subsets[start : start + group]
        batch = sums(model, upper, findings, side, arithmetic, subsets, request.causes, limited=False)
        answers.extend(
            _engine._left_out_row(
                batch.total[i],
                absolute[columns],
                float(batch.depth),
                np.longdouble,
                exact,
                merged,
                request,
                n_causes,
            )[0]
            for i in range(len(subsets))
        )
    return answers


def _longdouble(v: _Value) -> np.ndarray:
    return v.hi.astype(np.longdouble) + (0.0 if v.lo is None else v.lo.astype(np.longdouble))


def _left_out_coef(coef: np.ndarray, finding: int, left_out: Sequence[Sequence[int]]) -> np.ndarray:
    """A signed positive's choices' coefficients ``(K, 2)``: row ``i`` as given, or where set ``i``
    holds the finding only the choice that leaves it out (coefficient 1, every multiplier 1);
    ``(1, w)`` where no set does."""
    if not any(finding in subset for subset in left_out):
        return coef[None]
    rows = np.repeat(coef[None], len(left_out), axis=0)
    for i, subset in enumerate(left_out):
        if finding in subset:
            rows[i] = np.where(coef == 1.0, 1.0, 0.0)
    return rows


def left_out_sets(model: Model, findings: np.ndarray, subsets: Sequence[Sequence[int]]) -> bool:
    """Whether every finding in ``subsets`` is a positive expanded here with two choices, one of
    which (coefficient 1, every multiplier 1) is the evidence without it: then each set's answer comes
    from the same elimination (:func:`sums`' ``left_out``)."""
    compiled = _engine._compile(model)
    recoded = _recoded(compiled, findings)
    for f in {f for subset in subsets for f in subset}:
        code = int(recoded[f])
        if code < 1 or compiled.width[f, code] != 2:
            return False
        bank = compiled.banks[2]
        row = int(compiled.bank_row[f, code])
        anything = bank.coef[row] == 1.0
        vectors = (bank.absent[row], bank.present[row], bank.not_activated[row])
        if anything.sum() != 1 or not all((v[anything] == 1.0).all() for v in vectors):
            return False
    return True
