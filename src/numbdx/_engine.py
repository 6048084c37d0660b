"""Exact inference: Quickscore over the findings, variable elimination over the risk factors.

Given the causes, findings are independent, and for each finding the event "its pattern is a subset of
B" has probability ``leak(B) * prod_c mult_c(B) ** present_c`` (a product over causes). Evidence on a
finding ("pattern in A") is a signed sum of such events by Moebius inversion over subsets; a positive
binary finding is ``1 - P(off)``, a negative one a single product (Heckerman's Quickscore, generalised
to the side finding's four patterns). The evidence is therefore a signed sum over *terms*, each term a
product over causes of per-cause multipliers ``w[t, c]``.

For one term, summing out each cause given its parents leaves ``g_c = 1 - p_c + p_c * w[t, c]``, a
factor over the cause's parents in the upper layer (context and risk factors). The upper layer is then
summed out exactly by variable elimination (greedy min-fill order) instead of enumerating its 2**n
states. ``P(cause_j present, evidence)`` uses the same elimination with ``g_j`` replaced by
``p_j * w[t, j]``; all causes are done at once along a batch axis ``j`` (``j = 0``: no cause clamped).

Precision: the signed sum cancels as positives grow. Each answer carries a bound on its relative
rounding error (``eps * ops * sum|terms| / |sum|``); when the bound exceeds ``TARGET_ERROR`` the query
is recomputed in extended precision, and if that is still not enough the engine raises rather than
answer wrongly.
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
CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class Answer:
    posterior: np.ndarray  # P(cause present | evidence), model cause order
    prior: np.ndarray  # P(cause present | context and risk-factor evidence only)
    evidence_probability: float
    error_bound: float  # bound on the absolute error of any posterior
    terms: int
    dtype: str


def _terms(model: Model, findings: Mapping[int, frozenset[int]], dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """The signed terms of the evidence: coefficients ``(T,)`` and per-cause multipliers ``(T, C)``."""
    n_causes = len(model.causes)
    coef = np.ones(1, dtype=dtype)
    mult = np.ones((1, n_causes), dtype=dtype)
    per_finding = []
    for index, allowed in findings.items():
        f = model.findings[index]
        full = f.n_patterns - 1
        items = []
        for subset in range(f.n_patterns):
            # Moebius inversion: P(pattern in A) = sum_B sum_{a in A, B subset of a} (-1)^{|a|-|B|} P(pattern subset of B)
            c = sum((-1) ** (bin(a).count("1") - bin(subset).count("1")) for a in allowed if a & subset == subset)
            if c:
                items.append((subset, c))
        if items == [(full, 1)]:
            continue  # "anything": no information
        per_finding.append((f, full, items))
    n_terms = int(np.prod([len(items) for _, _, items in per_finding], dtype=np.float64))
    if n_terms > MAX_TERMS:
        raise InferenceLimitError(
            f"this evidence needs {n_terms} Quickscore terms (more than {MAX_TERMS}); "
            "give fewer positive findings in one query"
        )
    for f, full, items in per_finding:
        c_new = np.array([c * f.leak_subset_mult[b] for b, c in items], dtype=dtype)
        m_new = np.stack([np.ones(n_causes) if b == full else f.subset_mult[b] for b, _ in items]).astype(dtype)
        coef = (coef[:, None] * c_new[None, :]).reshape(-1)
        mult = (mult[:, None, :] * m_new[None, :, :]).reshape(-1, n_causes)
    return coef, mult


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


def _eliminate(
    model: Model, observed: Mapping[int, int], mult: np.ndarray, dtype: type
) -> np.ndarray:
    """``Z[t, j]``: the upper layer summed out for each term ``t`` and clamp ``j`` (see module doc)."""
    n_terms, n_causes = mult.shape
    factors: list[tuple[tuple[int, ...], np.ndarray]] = []

    def restrict(scope: Sequence[int], table: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
        index = tuple(observed.get(v, slice(None)) for v in scope)
        return tuple(v for v in scope if v not in observed), table[index]

    for i, var in enumerate(model.upper):
        scope, table = restrict((*var.parents, i), var.table.astype(dtype, copy=False))
        factors.append((scope, table[None, None]))
    for c, cause in enumerate(model.causes):
        scope, p = restrict(cause.parents, cause.p_present.astype(dtype, copy=False))
        w = mult[:, c].reshape((n_terms,) + (1,) * p.ndim)
        table = np.empty((n_terms, n_causes + 1, *p.shape), dtype=dtype)
        table[:] = (1 - p + p * w)[:, None]
        table[:, c + 1] = p * w
        factors.append((scope, table))

    hidden = frozenset(range(len(model.upper))) - frozenset(observed)
    order = _elimination_order(tuple(frozenset(s) for s, _ in factors), hidden)
    for v in order:
        involved = [f for f in factors if v in f[0]]
        factors = [f for f in factors if v not in f[0]]
        out_scope = tuple(sorted({u for s, _ in involved for u in s} - {v}))
        spec = ",".join("..." + "".join(_LETTERS[u] for u in s) for s, _ in involved)
        spec += "->..." + "".join(_LETTERS[u] for u in out_scope)
        factors.append((out_scope, np.einsum(spec, *(t for _, t in involved))))
    result = np.ones((n_terms, n_causes + 1), dtype=dtype)
    for scope, table in factors:
        assert not scope
        result = result * table
    return result


def _run(model: Model, evidence: Evidence, dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Signed and absolute sums over terms of ``Z[t, j]``, and the number of terms."""
    coef, mult = _terms(model, evidence.findings, dtype)
    n_causes = len(model.causes)
    widest = max((c.p_present.size for c in model.causes), default=1)
    chunk = max(1, CHUNK_BYTES // (8 * (n_causes + 1) * widest * 4))
    total = np.zeros(n_causes + 1, dtype=dtype)
    absolute = np.zeros(n_causes + 1, dtype=dtype)
    for start in range(0, len(coef), chunk):
        z = _eliminate(model, evidence.upper, mult[start : start + chunk], dtype)
        c = coef[start : start + chunk]
        total += c @ z
        absolute += np.abs(c) @ z
    return total, absolute, coef, len(coef)


def infer_exact(model: Model, evidence: Evidence) -> Answer:
    """Posterior and context prior of every cause (see the module docstring)."""
    ops = 4 * (len(model.causes) + len(model.upper) + len(evidence.findings) + 8)
    for dtype in (np.float64, np.longdouble):
        eps = float(np.finfo(dtype).eps)
        total, absolute, _, n_terms = _run(model, evidence, dtype)
        p_e = total[0]
        if not p_e > eps * ops * absolute[0]:
            raise ImpossibleEvidenceError(
                "the model gives this evidence probability zero (no combination of causes explains it)"
            )
        posterior = total[1:] / p_e
        # |error| of num_j/den <= (err_num + post * err_den) / den, with err <= eps * ops * sum|terms|
        error = float(np.max(eps * ops * (absolute[1:] + posterior * absolute[0]) / p_e))
        if error <= TARGET_ERROR:
            break
    if error > MAX_ERROR:
        raise InferenceLimitError(
            f"exact inference lost precision (error bound {error:.1e}) on this evidence; give fewer positive findings"
        )
    context_only = Evidence(values={}, assumed=(), upper=evidence.upper, findings={})
    prior_total, _, _, _ = _run(model, context_only, np.float64)
    prior = prior_total[1:] / prior_total[0]
    return Answer(
        posterior=np.clip(posterior.astype(np.float64), 0.0, 1.0),
        prior=np.clip(prior, 0.0, 1.0),
        evidence_probability=float(p_e),
        error_bound=error,
        terms=n_terms,
        dtype=np.dtype(dtype).name,
    )
