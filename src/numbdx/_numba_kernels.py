"""Compiled eliminations (numba): what :func:`numbdx._engine._eliminate_columns` computes, without its
temporaries. Imported by :mod:`numbdx._kernel` only, and only when numba is installed and wanted.

Both kernels walk the plan's flat tables (``_Packed.kernel_steps``, ``kernel_gather``,
``kernel_operands``) over ``BLOCK`` columns at a time, the columns innermost so that each line of a
step is one vectorised loop over contiguous memory.

- :func:`eliminate_float64` does every multiplication and addition in the order the numpy path does
  (products over a step's operands left to right, sums over the summed variable and back into an
  operand's entries in union order, the cavities' running products from both ends). Without fast-math,
  LLVM neither reorders nor fuses them, so its numbers are the numpy path's, bit for bit (the tests
  check it).
- :func:`eliminate_double_double` stands in for the numpy path's extended precision (``np.longdouble``,
  which numba lacks). Each value is an unevaluated sum ``hi + lo`` of two float64 (Dekker 1971; Hida,
  Li and Bailey 2001): products by ``fma`` and sums by two-sum, about 2**-104 relative error per
  operation where ``np.longdouble`` gives 2**-64, so the engine's extended-precision bound still holds.
  Every value here is non-negative, which keeps the simple (sloppy) double-double sum accurate.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

BLOCK = 64  # columns per pass: the workspace stays in cache (measured: 16-512, 64-128 best)


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's fma: one instruction where the CPU has it, exact in software
    where it has not)."""
    signature = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        return builder.fma(*args)

    return signature, codegen


@numba.njit(inline="always")
def _mul(ah, al, bh, bl):
    """``(ah + al) * (bh + bl)`` as a double-double."""
    p = ah * bh
    e = _fma(ah, bh, -p) + (ah * bl + al * bh)
    hi = p + e
    return hi, e - (hi - p)


@numba.njit(inline="always")
def _add(ah, al, bh, bl):
    """``(ah + al) + (bh + bl)`` as a double-double (accurate for operands of one sign)."""
    s = ah + bh
    v = s - ah
    e = (ah - (s - v)) + (bh - v) + (al + bl)
    hi = s + e
    return hi, e - (hi - s)


@numba.njit(inline="always")
def _widest(steps):
    """The most operands of any step (the cavities' buffer)."""
    widest = 1
    for s in range(steps.shape[0]):
        widest = max(widest, steps[s, 0])
    return widest


@numba.njit(inline="always")
def _locate(first, m, n_terms, row, term):
    """Each of the block's ``m`` columns from ``first`` as (row, term): column ``j = r * T + t``."""
    for b in range(m):
        row[b] = (first + b) // n_terms
        term[b] = (first + b) % n_terms


@numba.njit(cache=True, nogil=True, boundscheck=False)
def eliminate_float64(
    width, cause_start, cause_end, steps, gather, operands, final, owner, priors, alpha, beta, absent, present, active
):
    """``Z[r, t, j]`` as :func:`numbdx._engine._eliminate_columns` returns it, in float64.

    ``steps``, ``gather``, ``operands``, ``final``, ``owner``: the plan (``_Packed``); ``priors``,
    ``alpha``, ``beta`` ``(entries, 1|R)``; ``absent``, ``present``, ``active`` ``(R, T, C)``."""
    n_rows, n_terms, n_causes = present.shape
    n = n_rows * n_terms
    out = np.empty((n, 1 + 2 * n_causes))
    work = np.empty((width, BLOCK))
    grad = np.empty((width, BLOCK))
    cavity = np.empty((_widest(steps), BLOCK))
    run = np.empty(BLOCK)
    after = np.empty(BLOCK)
    n_final = final.shape[0]
    prefix = np.empty((n_final + 1, BLOCK))
    weighted = np.empty((n_causes, BLOCK))
    row = np.empty(BLOCK, dtype=np.int64)
    term = np.empty(BLOCK, dtype=np.int64)
    n_entries = cause_end - cause_start
    for first in range(0, n, BLOCK):
        m = min(BLOCK, n - first)
        _locate(first, m, n_terms, row, term)
        # initial factors: priors, then g = alpha * absent + beta * present per cause entry
        for e in range(cause_start):
            for b in range(m):
                work[e, b] = priors[e, row[b] if priors.shape[1] > 1 else 0]
        for e in range(n_entries):
            c = owner[e]
            for b in range(m):
                r = row[b] if alpha.shape[1] > 1 else 0
                t = term[b]
                work[cause_start + e, b] = alpha[e, r] * absent[row[b], t, c] + beta[e, r] * present[row[b], t, c]
        # forward: each output entry is the sum over the summed variable of the operands' product
        for s in range(steps.shape[0]):
            n_ops, union, card, out_start, out_size, _, at, _ = steps[s]
            for o in range(out_size):
                for k in range(card):
                    u = o * card + k
                    g = gather[at + u]
                    for b in range(m):
                        run[b] = work[g, b]
                    for i in range(1, n_ops):
                        g = gather[at + i * union + u]
                        for b in range(m):
                            run[b] = run[b] * work[g, b]
                    if k == 0:
                        for b in range(m):
                            work[out_start + o, b] = run[b]
                    else:
                        for b in range(m):
                            work[out_start + o, b] = work[out_start + o, b] + run[b]
        # the factors left multiply into Z; each one's cavity is the product of the others
        for b in range(m):
            prefix[0, b] = 1.0
            after[b] = 1.0
        for i in range(n_final):
            for b in range(m):
                prefix[i + 1, b] = prefix[i, b] * work[final[i], b]
        for i in range(n_final - 1, -1, -1):
            for b in range(m):
                grad[final[i], b] = prefix[i, b] * after[b]
                after[b] = after[b] * work[final[i], b]
        # reverse: cavities flow back through the steps that lead to a cause factor
        for s in range(steps.shape[0] - 1, -1, -1):
            n_ops, union, card, out_start, _, out_needed, at, op_at = steps[s]
            if not out_needed:
                continue
            for i in range(n_ops):
                if operands[op_at + i, 2]:
                    for e in range(operands[op_at + i, 0], operands[op_at + i, 0] + operands[op_at + i, 1]):
                        for b in range(m):
                            grad[e, b] = 0.0
            for u in range(union):
                for b in range(m):
                    run[b] = grad[out_start + u // card, b]
                for i in range(n_ops):
                    for b in range(m):
                        cavity[i, b] = run[b]
                    if i < n_ops - 1:
                        g = gather[at + i * union + u]
                        for b in range(m):
                            run[b] = run[b] * work[g, b]
                for b in range(m):
                    after[b] = 1.0
                for i in range(n_ops - 1, -1, -1):
                    g = gather[at + i * union + u]
                    if i < n_ops - 1:
                        for b in range(m):
                            cavity[i, b] = cavity[i, b] * after[b]
                    if i > 0:
                        for b in range(m):
                            after[b] = after[b] * work[g, b]
                    if operands[op_at + i, 2]:
                        for b in range(m):
                            grad[g, b] = grad[g, b] + cavity[i, b]
        # sum over each cause's entries of cavity * beta
        weighted[:, :m] = 0.0
        for e in range(n_entries):
            c = owner[e]
            for b in range(m):
                weighted[c, b] = weighted[c, b] + grad[cause_start + e, b] * beta[e, row[b] if beta.shape[1] > 1 else 0]
        for b in range(m):
            j, r, t = first + b, row[b], term[b]
            out[j, 0] = prefix[n_final, b]
            for c in range(n_causes):
                out[j, 1 + c] = weighted[c, b] * present[r, t, c]
                out[j, 1 + n_causes + c] = weighted[c, b] * active[r, t, c]
    return out.reshape(n_rows, n_terms, 1 + 2 * n_causes)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def eliminate_double_double(
    width, cause_start, cause_end, steps, gather, operands, final, owner, priors, alpha, beta, absent, present, active
):
    """:func:`eliminate_float64` in double-double: every float array has a leading axis of two (the
    high and low parts), the result too: ``(2, R, T, J)``."""
    n_rows, n_terms, n_causes = present.shape[1:]
    n = n_rows * n_terms
    out = np.empty((2, n, 1 + 2 * n_causes))
    work_hi, work_lo = np.empty((width, BLOCK)), np.empty((width, BLOCK))
    grad_hi, grad_lo = np.empty((width, BLOCK)), np.empty((width, BLOCK))
    widest = _widest(steps)
    cavity_hi, cavity_lo = np.empty((widest, BLOCK)), np.empty((widest, BLOCK))
    run_hi, run_lo = np.empty(BLOCK), np.empty(BLOCK)
    after_hi, after_lo = np.empty(BLOCK), np.empty(BLOCK)
    n_final = final.shape[0]
    prefix_hi, prefix_lo = np.empty((n_final + 1, BLOCK)), np.empty((n_final + 1, BLOCK))
    weighted_hi, weighted_lo = np.empty((n_causes, BLOCK)), np.empty((n_causes, BLOCK))
    row = np.empty(BLOCK, dtype=np.int64)
    term = np.empty(BLOCK, dtype=np.int64)
    n_entries = cause_end - cause_start
    for first in range(0, n, BLOCK):
        m = min(BLOCK, n - first)
        _locate(first, m, n_terms, row, term)
        for e in range(cause_start):
            for b in range(m):
                r = row[b] if priors.shape[2] > 1 else 0
                work_hi[e, b], work_lo[e, b] = priors[0, e, r], priors[1, e, r]
        for e in range(n_entries):
            c = owner[e]
            for b in range(m):
                r = row[b] if alpha.shape[2] > 1 else 0
                q, t = row[b], term[b]
                x_hi, x_lo = _mul(alpha[0, e, r], alpha[1, e, r], absent[0, q, t, c], absent[1, q, t, c])
                y_hi, y_lo = _mul(beta[0, e, r], beta[1, e, r], present[0, q, t, c], present[1, q, t, c])
                work_hi[cause_start + e, b], work_lo[cause_start + e, b] = _add(x_hi, x_lo, y_hi, y_lo)
        for s in range(steps.shape[0]):
            n_ops, union, card, out_start, out_size, _, at, _ = steps[s]
            for o in range(out_size):
                for k in range(card):
                    u = o * card + k
                    g = gather[at + u]
                    for b in range(m):
                        run_hi[b], run_lo[b] = work_hi[g, b], work_lo[g, b]
                    for i in range(1, n_ops):
                        g = gather[at + i * union + u]
                        for b in range(m):
                            run_hi[b], run_lo[b] = _mul(run_hi[b], run_lo[b], work_hi[g, b], work_lo[g, b])
                    w = out_start + o
                    if k == 0:
                        for b in range(m):
                            work_hi[w, b], work_lo[w, b] = run_hi[b], run_lo[b]
                    else:
                        for b in range(m):
                            work_hi[w, b], work_lo[w, b] = _add(work_hi[w, b], work_lo[w, b], run_hi[b], run_lo[b])
        for b in range(m):
            prefix_hi[0, b], prefix_lo[0, b] = 1.0, 0.0
            after_hi[b], after_lo[b] = 1.0, 0.0
        for i in range(n_final):
            f = final[i]
            for b in range(m):
                prefix_hi[i + 1, b], prefix_lo[i + 1, b] = _mul(
                    prefix_hi[i, b], prefix_lo[i, b], work_hi[f, b], work_lo[f, b]
                )
        for i in range(n_final - 1, -1, -1):
            f = final[i]
            for b in range(m):
                grad_hi[f, b], grad_lo[f, b] = _mul(prefix_hi[i, b], prefix_lo[i, b], after_hi[b], after_lo[b])
                after_hi[b], after_lo[b] = _mul(after_hi[b], after_lo[b], work_hi[f, b], work_lo[f, b])
        for s in range(steps.shape[0] - 1, -1, -1):
            n_ops, union, card, out_start, _, out_needed, at, op_at = steps[s]
            if not out_needed:
                continue
            for i in range(n_ops):
                if operands[op_at + i, 2]:
                    for e in range(operands[op_at + i, 0], operands[op_at + i, 0] + operands[op_at + i, 1]):
                        for b in range(m):
                            grad_hi[e, b], grad_lo[e, b] = 0.0, 0.0
            for u in range(union):
                w = out_start + u // card
                for b in range(m):
                    run_hi[b], run_lo[b] = grad_hi[w, b], grad_lo[w, b]
                for i in range(n_ops):
                    for b in range(m):
                        cavity_hi[i, b], cavity_lo[i, b] = run_hi[b], run_lo[b]
                    if i < n_ops - 1:
                        g = gather[at + i * union + u]
                        for b in range(m):
                            run_hi[b], run_lo[b] = _mul(run_hi[b], run_lo[b], work_hi[g, b], work_lo[g, b])
                for b in range(m):
                    after_hi[b], after_lo[b] = 1.0, 0.0
                for i in range(n_ops - 1, -1, -1):
                    g = gather[at + i * union + u]
                    if i < n_ops - 1:
                        for b in range(m):
                            cavity_hi[i, b], cavity_lo[i, b] = _mul(
                                cavity_hi[i, b], cavity_lo[i, b], after_hi[b], after_lo[b]
                            )
                    if i > 0:
                        for b in range(m):
                            after_hi[b], after_lo[b] = _mul(after_hi[b], after_lo[b], work_hi[g, b], work_lo[g, b])
                    if operands[op_at + i, 2]:
                        for b in range(m):
                            grad_hi[g, b], grad_lo[g, b] = _add(
                                grad_hi[g, b], grad_lo[g, b], cavity_hi[i, b], cavity_lo[i, b]
                            )
        weighted_hi[:, :m] = 0.0
        weighted_lo[:, :m] = 0.0
        for e in range(n_entries):
            c = owner[e]
            for b in range(m):
                r = row[b] if beta.shape[2] > 1 else 0
                w = cause_start + e
                x_hi, x_lo = _mul(grad_hi[w, b], grad_lo[w, b], beta[0, e, r], beta[1, e, r])
                weighted_hi[c, b], weighted_lo[c, b] = _add(weighted_hi[c, b], weighted_lo[c, b], x_hi, x_lo)
        for b in range(m):
            j, r, t = first + b, row[b], term[b]
            out[0, j, 0], out[1, j, 0] = prefix_hi[n_final, b], prefix_lo[n_final, b]
            for c in range(n_causes):
                out[0, j, 1 + c], out[1, j, 1 + c] = _mul(
                    weighted_hi[c, b], weighted_lo[c, b], present[0, r, t, c], present[1, r, t, c]
                )
                out[0, j, 1 + n_causes + c], out[1, j, 1 + n_causes + c] = _mul(
                    weighted_hi[c, b], weighted_lo[c, b], active[0, r, t, c], active[1, r, t, c]
                )
    return out.reshape(2, n_rows, n_terms, 1 + 2 * n_causes)
