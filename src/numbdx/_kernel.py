"""An optional compiled kernel (numba) for one patient's elimination: the `fast` extra.

The numpy path (``_engine._eliminate_numpy``) runs each elimination step on every row and term at once,
so for one patient with a few terms its time is numpy's per-call overhead, not arithmetic (about 90x
the arithmetic of the method; see ``benchmarks/README.md``). This kernel runs the same plan, the same
forward pass and the same reverse-mode cavities in compiled loops over each term.

It is used only when asked for (``NUMBDX_KERNEL=numba`` in the environment), only for one patient
(``infer``), and only in float64 (extended-precision retries stay on the numpy path). Importing numba
costs about half a second, so it pays off in a long-running process (a service), not in a short
script. Its answers agree with the numpy path to rounding (tested), not bit for bit.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import numpy as np

ENV = "NUMBDX_KERNEL"


def requested() -> bool:
    """Whether the environment asks for the compiled kernel."""
    return os.environ.get(ENV, "").strip().lower() == "numba"


@lru_cache(maxsize=1)
def _compiled() -> Any:
    """The compiled function, or None when numba is not installed."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=True, nogil=True)
    def run(
        op_ptr, ops, gather_ptr, gathers, cards, unions, sizes, offsets, n_prior, n_causes, final,
        prior_vals, prior_ptr, prior_rows, alpha, beta, cause_ptr, cause_rows, absent, present, active,
    ):  # fmt: skip
        n_rows, n_terms = present.shape[0], present.shape[1]
        n_steps = cards.shape[0]
        n_init = n_prior + n_causes
        total = offsets[-1]
        out = np.empty((n_rows, n_terms, 1 + 2 * n_causes))
        val = np.empty(total)
        grad = np.empty(total)
        for r in range(n_rows):
            pr = r if prior_rows > 1 else 0
            cr = r if cause_rows > 1 else 0
            for t in range(n_terms):
                for i in range(n_prior):
                    for e in range(sizes[i]):
                        val[offsets[i] + e] = prior_vals[pr, prior_ptr[i] + e]
                for c in range(n_causes):
                    i = n_prior + c
                    a = absent[r, t, c]
                    p = present[r, t, c]
                    for e in range(sizes[i]):
                        val[offsets[i] + e] = alpha[cr, cause_ptr[c] + e] * a + beta[cr, cause_ptr[c] + e] * p
                # forward: each step multiplies its operands on the union table and sums the last variable
                for s in range(n_steps):
                    o = n_init + s
                    for e in range(sizes[o]):
                        val[offsets[o] + e] = 0.0
                    card = cards[s]
                    for u in range(unions[s]):
                        prod = 1.0
                        for k in range(op_ptr[s], op_ptr[s + 1]):
                            prod *= val[offsets[ops[k]] + gathers[gather_ptr[k] + u]]
                        val[offsets[o] + u // card] += prod
                z = 1.0
                for f in final:
                    z *= val[offsets[f]]
                # backward: cavities d Z / d factor, by prefix and suffix products, then down the steps
                for e in range(total):
                    grad[e] = 0.0
                for j in range(final.shape[0]):
                    g = 1.0
                    for m in range(final.shape[0]):
                        if m != j:
                            g *= val[offsets[final[m]]]
                    grad[offsets[final[j]]] += g
                for s in range(n_steps - 1, -1, -1):
                    o = n_init + s
                    card = cards[s]
                    for u in range(unions[s]):
                        g = grad[offsets[o] + u // card]
                        if g == 0.0:
                            continue
                        for k in range(op_ptr[s], op_ptr[s + 1]):
                            others = g
                            for m in range(op_ptr[s], op_ptr[s + 1]):
                                if m != k:
                                    others *= val[offsets[ops[m]] + gathers[gather_ptr[m] + u]]
                            grad[offsets[ops[k]] + gathers[gather_ptr[k] + u]] += others
                out[r, t, 0] = z
                for c in range(n_causes):
                    i = n_prior + c
                    acc = 0.0  # sum of cavity * beta: the present and activating parts scale it
                    for e in range(sizes[i]):
                        acc += grad[offsets[i] + e] * beta[cr, cause_ptr[c] + e]
                    out[r, t, 1 + c] = acc * present[r, t, c]
                    out[r, t, 1 + n_causes + c] = acc * active[r, t, c]
        return out

    return run


def available() -> bool:
    """Whether numba is installed (the `fast` extra)."""
    return _compiled() is not None


_packed: dict[int, tuple[Any, tuple]] = {}


def _pack(plan: Any, priors: list, causes: list) -> tuple:
    """The plan as flat arrays (kept per plan object: plans are cached by the engine)."""
    key = id(plan)
    hit = _packed.get(key)
    if hit is not None and hit[0] is plan:  # the entry holds its plan, so the id cannot be reused
        return hit[1]
    n_prior, n_causes = len(priors), len(causes)
    sizes = [arr.shape[-1] for _, arr in priors] + [alpha.shape[-1] for _, alpha, _ in causes]
    op_ptr, ops, gather_ptr, gathers, cards, unions = [0], [], [], [], [], []
    position = 0
    for involved, step_gathers, card, _ in plan.steps:
        for i, g in zip(involved, step_gathers):
            ops.append(i)
            gather_ptr.append(position)
            gathers.append(np.asarray(g, dtype=np.int64))
            position += len(g)
        op_ptr.append(len(ops))
        cards.append(card)
        unions.append(len(step_gathers[0]))
        sizes.append(len(step_gathers[0]) // card)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    packed = (
        np.array(op_ptr, dtype=np.int64),
        np.array(ops, dtype=np.int64),
        np.array(gather_ptr, dtype=np.int64),
        np.concatenate(gathers) if gathers else np.zeros(0, dtype=np.int64),
        np.array(cards, dtype=np.int64),
        np.array(unions, dtype=np.int64),
        np.array(sizes, dtype=np.int64),
        offsets,
        n_prior,
        n_causes,
        np.array(plan.final, dtype=np.int64),
    )
    if len(_packed) > 256:
        _packed.clear()
    _packed[key] = (plan, packed)
    return packed


def eliminate(
    plan: Any, priors: list, causes: list, absent: np.ndarray, present: np.ndarray, active: np.ndarray
) -> np.ndarray:
    """What ``_engine._eliminate_numpy`` returns, in float64, from the compiled kernel."""
    run = _compiled()

    def stacked(arrays: list[np.ndarray]) -> np.ndarray:
        """Tables of one row or of every row, side by side as ``(1 or R, entries)``."""
        rows = max((a.shape[0] for a in arrays), default=1)
        return np.concatenate([np.broadcast_to(a, (rows, a.shape[-1])) for a in arrays], axis=1)

    prior_vals = stacked([arr for _, arr in priors]) if priors else np.zeros((1, 0))
    prior_ptr = np.concatenate([[0], np.cumsum([arr.shape[-1] for _, arr in priors])]).astype(np.int64)
    alpha = stacked([a for _, a, _ in causes])
    beta = stacked([b for _, _, b in causes])
    cause_ptr = np.concatenate([[0], np.cumsum([a.shape[-1] for _, a, _ in causes])]).astype(np.int64)
    return run(
        *_pack(plan, priors, causes),
        np.ascontiguousarray(prior_vals, dtype=np.float64),
        prior_ptr,
        prior_vals.shape[0],
        np.ascontiguousarray(alpha, dtype=np.float64),
        np.ascontiguousarray(beta, dtype=np.float64),
        cause_ptr,
        alpha.shape[0],
        np.ascontiguousarray(absent, dtype=np.float64),
        np.ascontiguousarray(present, dtype=np.float64),
        np.ascontiguousarray(active, dtype=np.float64),
    )
