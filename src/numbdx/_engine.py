"""Exact inference: Quickscore over the findings, variable elimination over the risk factors.

Given the causes, findings are independent, and for each finding the event "its pattern is a subset of
B" has probability ``leak(B) * prod_c mult_c(B) ** present_c`` (a product over causes). Evidence on a
finding ("pattern in A") is a signed sum of such events by Moebius inversion over subsets; a positive
binary finding is ``1 - P(off)``, a negative one a single product (Heckerman's Quickscore, generalised
to the side finding's four patterns). Because ``1 - P(off)`` cancels badly for a rare finding, a
positive finding with few causes is instead expanded as "fires first through cause j", whose terms are
all non-negative. The evidence is therefore a signed sum over *terms*, each a product over causes of a
per-cause multiplier when absent (``absent[t, c]``) and when present (``present[t, c]``).

For one term, summing out each cause given its parents leaves
``g_c = (1 - p_c) * absent[t, c] + p_c * present[t, c]``, a factor over the cause's parents in the
upper layer (context and risk factors). The upper layer is then summed out exactly by variable
elimination (greedy min-fill order) instead of enumerating its 2**n states.
``P(cause_j present, evidence)`` uses the same elimination with ``g_j`` replaced by its present part,
and ``P(cause_j activating the leg numbness, evidence)`` with ``g_j`` replaced by the activated part of
that; all of it is done at once along a batch axis of clamps.

Precision: each answer carries a bound on its rounding error (``eps * ops * sum|terms| / |sum|``);
when the bound exceeds ``TARGET_ERROR`` the query is recomputed in extended precision, and if that is
still above ``MAX_ERROR`` the engine raises rather than answer wrongly.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._evidence import Evidence
from ._exceptions import ImpossibleEvidenceError, InferenceLimitError
from ._model import Model

TARGET_ERROR = 1e-10
MAX_ERROR = 1e-6
MAX_TERMS = 1 << 16
# positive findings with at most this many causes, and at most this probability, are expanded without
# cancellation (see _rare_findings)
ORDERED_MAX_PARENTS = 6
RARE_ON = 0.02
CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class Answer:
    posterior: np.ndarray  # P(cause present | evidence), model cause order
    explains: np.ndarray  # P(cause present and producing the leg numbness | evidence)
    prior: np.ndarray  # P(cause present | context and risk-factor evidence only)
    evidence_probability: float
    error_bound: float  # bound on the absolute error of any posterior
    terms: int
    dtype: str


def _moebius(allowed: frozenset[int], n_patterns: int) -> list[tuple[int, int]]:
    """``P(pattern in A) = sum_B coef_B * P(pattern subset of B)``: the non-zero ``(B, coef_B)``."""
    items = []
    for subset in range(n_patterns):
        c = sum((-1) ** (bin(a).count("1") - bin(subset).count("1")) for a in allowed if a & subset == subset)
        if c:
            items.append((subset, c))
    return items


@dataclass(frozen=True)
class _Terms:
    """The evidence as a signed sum of terms, each a product over causes.

    Per term ``t`` and cause ``c``: ``absent`` is the multiplier when ``c`` is absent; ``present`` when
    it is present; ``active`` the part of ``present`` in which ``c`` activates the leg numbness.
    """

    coef: np.ndarray
    absent: np.ndarray
    present: np.ndarray
    active: np.ndarray


def _rare_findings(model: Model) -> frozenset[int]:
    """Findings with few causes whose probability is small in every context: for these ``1 - P(off)``
    cancels (relative error grows like 1/P(on)), so a positive one is expanded without cancellation.

    The bound takes every cause at its most likely (and activated, for a gated finding).
    """
    cached = model.__dict__.get("_rare_findings")
    if cached is None:
        rare = set()
        for i, f in enumerate(model.findings):
            if f.n_patterns != 2 or len(f.parents) > ORDERED_MAX_PARENTS:
                continue
            p_off = f.leak_probs[0]
            for c in f.parents:
                reach = model.causes[c].p_present.max() * (model.activation[c] if f.gated else 1.0)
                p_off *= 1 - reach * f.pattern_probs[c, 1]
            if 1 - p_off <= RARE_ON:
                rare.add(i)
        cached = model.__dict__["_rare_findings"] = frozenset(rare)
    return cached


def _item_terms(model: Model, index: int, allowed: frozenset[int], dtype: type) -> list[tuple[float, ...]]:
    """Terms ``(coef, absent, present, not_activated)`` of the evidence on one finding.

    A positive finding with few parents uses the expansion without cancellation, "fires first through
    cause j": ``P(on | C) = leak + (1 - leak) * sum_j q_j C_j prod_{i<j} (1 - q_i C_i)``, whose terms
    are all non-negative; otherwise Moebius inversion (Quickscore's ``1 - P(off)`` for a positive).
    ``present`` is read given activation for a gated finding; ``not_activated`` is the multiplier when
    the cause is present but does not activate the numbness (1 except where a term needs activation).
    """
    f = model.findings[index]
    n_causes = len(model.causes)
    ones = np.ones(n_causes, dtype=dtype)
    if allowed == frozenset({1}) and index in _rare_findings(model):
        leak = f.leak_probs[1]
        terms = [(leak, ones, ones, ones)]
        earlier = ones.copy()
        for c in f.parents:
            q = f.pattern_probs[c, 1]
            present, needed = earlier.copy(), ones.copy()
            present[c], needed[c] = q, 0.0
            terms.append((1 - leak, needed, present, needed))
            earlier[c] = 1 - q
        return terms
    return [
        (c * f.leak_subset_mult[b], ones, f.subset_mult[b].astype(dtype), ones)
        for b, c in _moebius(allowed, f.n_patterns)
    ]


def _expand(items: list[list[tuple[float, ...]]], n_causes: int, dtype: type) -> list[np.ndarray]:
    """Outer product of per-finding term lists: ``[coef (T,), vector (T, C), ...]``."""
    out = [np.ones(1, dtype=dtype)] + [np.ones((1, n_causes), dtype=dtype) for _ in range(3)]
    for terms in items:
        new = [np.array([t[k] for t in terms], dtype=dtype) for k in range(4)]
        out = [(out[0][:, None] * new[0][None, :]).reshape(-1)] + [
            (a[:, None, :] * b[None, :, :]).reshape(-1, n_causes) for a, b in zip(out[1:], new[1:])
        ]
    return out


def _terms(model: Model, findings: Mapping[int, frozenset[int]], dtype: type) -> _Terms:
    """The evidence as terms (see :class:`_Terms`).

    The numbness block (side and gated features) is not a product over findings for one cause: a cause
    produces features only when it activates, so, present, its multiplier for "side within S and
    features as given" is ``(1 - s_c) * not_activated + s_c * pi_c(S) * prod (feature multipliers)``.
    The features' own leaks apply because the side evidence implies leg numbness whenever a gated
    feature is given.
    """
    side = model.side_index
    gated, other = [], []
    for index, allowed in findings.items():
        f = model.findings[index]
        if index == side or allowed == frozenset(range(f.n_patterns)):
            continue  # the side is handled below; "any state" carries no information
        (gated if f.gated else other).append(_item_terms(model, index, allowed, dtype))
    side_terms = _moebius(findings.get(side, frozenset({0, 1, 2, 3})), 4)
    n_terms = len(side_terms) * int(np.prod([len(t) for t in gated + other], dtype=np.float64))
    if n_terms > MAX_TERMS:
        raise InferenceLimitError(
            f"this evidence needs {n_terms} exact-inference terms (more than {MAX_TERMS}); "
            "give fewer positive findings in one query"
        )
    n_causes = len(model.causes)
    coef_g, absent_g, produced_g, not_activated_g = _expand(gated, n_causes, dtype)
    coef_o, absent_o, present_o, _ = _expand(other, n_causes, dtype)
    s = model.activation.astype(dtype)
    pi = model.findings[side].subset_mult.astype(dtype)  # pi[S, c] = P(side within S | activated)
    coef_n = np.concatenate([c * coef_g for _, c in side_terms])
    absent_n = np.concatenate([absent_g for _ in side_terms])
    active_n = np.concatenate([s * pi[subset] * produced_g for subset, _ in side_terms])
    present_n = np.concatenate([(1 - s) * not_activated_g for _ in side_terms]) + active_n

    def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a[:, None, :] * b[None, :, :]).reshape(-1, n_causes)

    return _Terms(
        coef=(coef_n[:, None] * coef_o[None, :]).reshape(-1),
        absent=combine(absent_n, absent_o),
        present=combine(present_n, present_o),
        active=combine(active_n, present_o),
    )


@lru_cache(maxsize=256)
def _elimination_order(scopes: tuple[frozenset[int], ...], variables: frozenset[int]) -> tuple[int, ...]:
    """Greedy min-fill (ties: smallest clique) order for summing out ``variables``."""
    neighbours = {v: set() for v in variables}
    for scope in scopes:
        for v in scope:
            neighbours[v] |= scope - {v}
    order = []
    remaining = set(variables)
    while remaining:

        def cost(v: int) -> tuple[int, int, int]:
            nb = neighbours[v] & remaining
            fill = sum(1 for a in nb for b in nb if a < b and b not in neighbours[a])
            return fill, len(nb), v

        v = min(remaining, key=cost)
        nb = neighbours[v] & remaining
        for a in nb:
            neighbours[a] |= nb - {a}
        remaining.remove(v)
        order.append(v)
    return tuple(order)


_LETTERS = string.ascii_letters


def _absorbed(model: Model, observed_vars: frozenset[int]) -> tuple[list, list]:
    """Upper-layer factors with single-child hidden variables summed into their cause.

    ``g_c = (1 - p_c) * absent + p_c * present`` is affine in ``p_c``, so a hidden variable whose only
    child is cause ``c`` sums out of the evidence as ``p_c <- sum_r P(r | its parents) p_c(r, ...)``,
    whatever the terms: done once per set of observed variables, not per query or term.
    Returns ``(priors, causes)``: ``[(scope, table)]`` for the remaining variables' priors (the table's
    last axis is the variable) and one ``(scope, P(present | scope))`` per cause.
    """
    cache = model.__dict__.setdefault("_absorbed_cache", {})
    if observed_vars in cache:
        return cache[observed_vars]
    priors = {i: ((*v.parents, i), v.table) for i, v in enumerate(model.upper)}
    causes = [(c.parents, c.p_present) for c in model.causes]
    changed = True
    while changed:
        changed = False
        for r in list(priors):
            if r in observed_vars:
                continue
            children = [c for c, (scope, _) in enumerate(causes) if r in scope]
            upper_children = [i for i, (scope, _) in priors.items() if i != r and r in scope]
            if len(children) != 1 or upper_children:
                continue
            (c,) = children
            scope_c, table_c = causes[c]
            scope_r, table_r = priors.pop(r)
            out = tuple(sorted((set(scope_c) | set(scope_r)) - {r}))
            spec = "".join(_LETTERS[u] for u in scope_c) + "," + "".join(_LETTERS[u] for u in scope_r)
            causes[c] = (out, np.einsum(spec + "->" + "".join(_LETTERS[u] for u in out), table_c, table_r))
            changed = True
    cache[observed_vars] = result = (list(priors.values()), causes)
    return result


def _eliminate(model: Model, observed: Mapping[int, int], terms: _Terms, dtype: type) -> np.ndarray:
    """``Z[t, j]``: the upper layer summed out for each term ``t`` and clamp ``j`` (see module doc):
    ``j = 0`` none, ``j = 1 + c`` cause ``c`` present, ``j = 1 + C + c`` cause ``c`` activating.

    One forward elimination gives ``Z``; a backward pass through the recorded einsums gives each cause
    factor's cavity ``dZ/dg_c`` (the product of everything else, summed to the cause's parents), and
    ``Z`` with ``g_c`` replaced by its present or activated part is the cavity dotted with that part.
    """
    n_terms, n_causes = terms.present.shape
    priors, cause_tables = _absorbed(model, frozenset(observed))

    def restrict(scope: Sequence[int], table: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
        index = tuple(observed.get(v, slice(None)) for v in scope)
        return tuple(v for v in scope if v not in observed), table[index].astype(dtype, copy=False)

    # factor: [scope, array (T or 1, *cards), needs_grad]
    factors: list[list] = []
    for scope, table in priors:
        scope, table = restrict(scope, table)
        factors.append([scope, table[None], False])
    cause_parts = []
    for c, (scope, table) in enumerate(cause_tables):
        scope, p = restrict(scope, table)
        shape = (n_terms,) + (1,) * p.ndim
        present = p * terms.present[:, c].reshape(shape)
        active = p * terms.active[:, c].reshape(shape)
        factors.append([scope, (1 - p) * terms.absent[:, c].reshape(shape) + present, True])
        cause_parts.append((len(factors) - 1, present, active))

    scopes = tuple(frozenset(f[0]) for f in factors)
    order = _elimination_order(scopes, frozenset().union(*scopes))  # absorbed variables are gone
    alive = list(range(len(factors)))
    tape = []
    for v in order:
        involved = [i for i in alive if v in factors[i][0]]
        alive = [i for i in alive if v not in factors[i][0]]
        out_scope = tuple(sorted({u for i in involved for u in factors[i][0]} - {v}))
        specs = ["..." + "".join(_LETTERS[u] for u in factors[i][0]) for i in involved]
        out_spec = "..." + "".join(_LETTERS[u] for u in out_scope)
        out = np.einsum(",".join(specs) + "->" + out_spec, *(factors[i][1] for i in involved))
        factors.append([out_scope, out, any(factors[i][2] for i in involved)])
        tape.append((involved, specs, out_spec, len(factors) - 1))
        alive.append(len(factors) - 1)

    # Z is the product of the remaining scalar factors; each one's gradient is the product of the others
    last = [np.broadcast_to(factors[i][1], (n_terms,)) for i in alive]
    prefix = [np.ones(n_terms, dtype=dtype)]
    for a in last:
        prefix.append(prefix[-1] * a)
    suffix = np.ones(n_terms, dtype=dtype)
    grads: dict[int, np.ndarray] = {}
    for k in range(len(last) - 1, -1, -1):
        if factors[alive[k]][2]:
            grads[alive[k]] = prefix[k] * suffix
        suffix = suffix * last[k]
    z = prefix[-1]
    for involved, specs, out_spec, out_id in reversed(tape):
        grad_out = grads.pop(out_id, None)
        if grad_out is None:
            continue
        for k, i in enumerate(involved):
            if not factors[i][2]:
                continue
            others = [j for j in range(len(involved)) if j != k]
            target = specs[k][3:]
            seen = set(out_spec[3:]).union(*(specs[j][3:] for j in others))
            # a summed variable only operand k has: the gradient is constant along it
            kept = "".join(letter for letter in target if letter in seen)
            spec = ",".join([out_spec, *(specs[j] for j in others)]) + "->..." + kept
            grad = np.einsum(spec, grad_out, *(factors[involved[j]][1] for j in others))
            if kept != target:
                for axis, letter in enumerate(target):
                    if letter not in seen:
                        grad = np.expand_dims(grad, axis + 1)
                grad = np.broadcast_to(grad, (n_terms, *factors[i][1].shape[1:]))
            grads[i] = grads[i] + grad if i in grads else grad

    result = np.empty((n_terms, 1 + 2 * n_causes), dtype=dtype)
    result[:, 0] = z
    for c, (index, present, active) in enumerate(cause_parts):
        cavity = np.broadcast_to(grads[index], factors[index][1].shape).reshape(n_terms, -1)
        result[:, 1 + c] = np.einsum(
            "ti,ti->t", cavity, np.broadcast_to(present, factors[index][1].shape).reshape(n_terms, -1)
        )
        result[:, 1 + n_causes + c] = np.einsum(
            "ti,ti->t", cavity, np.broadcast_to(active, factors[index][1].shape).reshape(n_terms, -1)
        )
    return result


def _run(model: Model, evidence: Evidence, dtype: type) -> tuple[np.ndarray, np.ndarray, int]:
    """Signed and absolute sums over terms of ``Z[t, j]``, and the number of terms."""
    terms = _terms(model, evidence.findings, dtype)
    coef = terms.coef
    n_clamps = 1 + 2 * len(model.causes)
    widest = max((c.p_present.size for c in model.causes), default=1)
    chunk = max(1, CHUNK_BYTES // (8 * n_clamps * widest * 4))
    total = np.zeros(n_clamps, dtype=dtype)
    absolute = np.zeros(n_clamps, dtype=dtype)
    for start in range(0, len(coef), chunk):
        part = slice(start, start + chunk)
        chunk_terms = _Terms(coef[part], terms.absent[part], terms.present[part], terms.active[part])
        z = _eliminate(model, evidence.upper, chunk_terms, dtype)
        c = coef[part]
        total += c @ z
        absolute += np.abs(c) @ z
    return total, absolute, len(coef)


def infer_exact(model: Model, evidence: Evidence) -> Answer:
    """Posterior and context prior of every cause (see the module docstring)."""
    ops = 4 * (len(model.causes) + len(model.upper) + len(evidence.findings) + 8)
    for dtype in (np.float64, np.longdouble):
        eps = float(np.finfo(dtype).eps)
        total, absolute, n_terms = _run(model, evidence, dtype)
        p_e = total[0]
        if not p_e > eps * ops * absolute[0]:
            if dtype is np.float64:
                continue  # indistinguishable from zero here: decide in extended precision
            raise ImpossibleEvidenceError(
                "the model gives this evidence probability zero (no combination of causes explains it)"
            )
        ratios = total[1:] / p_e
        # |error| of num_j/den <= (err_num + ratio * err_den) / den, with err <= eps * ops * sum|terms|
        error = float(np.max(eps * ops * (absolute[1:] + ratios * absolute[0]) / p_e))
        if error <= TARGET_ERROR:
            break
    if error > MAX_ERROR:
        raise InferenceLimitError(
            f"exact inference lost precision (error bound {error:.1e}) on this evidence; give fewer positive findings"
        )
    context_only = Evidence(values={}, assumed=(), upper=evidence.upper, findings={})
    prior_total, _, _ = _run(model, context_only, np.float64)
    n_causes = len(model.causes)
    prior = prior_total[1 : 1 + n_causes] / prior_total[0]
    ratios = ratios.astype(np.float64)
    return Answer(
        posterior=np.clip(ratios[:n_causes], 0.0, 1.0),
        explains=np.clip(ratios[n_causes:], 0.0, 1.0),
        prior=np.clip(prior, 0.0, 1.0),
        evidence_probability=float(p_e),
        error_bound=error,
        terms=n_terms,
        dtype=np.dtype(dtype).name,
    )
