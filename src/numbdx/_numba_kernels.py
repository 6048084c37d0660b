"""Compiled eliminations (numba): what :func:`numbdx._engine._eliminate_columns` computes, without its
temporaries. Imported by :mod:`numbdx._kernel` only, and only when numba is installed and wanted.

Each precision has a block function (``_columns_float64``, ``_columns_double_double``, inlined)
that eliminates ``BLOCK`` columns, and two kernels around it: ``eliminate_*`` write ``Z`` out,
``term_sums_*`` add each column's ``coef * Z`` into its row's sums instead (exact products, double-double
sums in term order).

The block functions walk the plan's flat tables (``_Packed.kernel_steps``, ``kernel_gather``,
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
  Every value of the elimination is non-negative, which keeps the simple (sloppy) double-double sum
  accurate; the signed sums over terms use the IEEE-style addition (``_add_signed``).

The term builders (``build_terms_float64``, ``build_terms_double_double``) make the terms the
eliminations take, for rows of any term structures in one call: in float64 numpy's products in numpy's
order (``_engine._group_terms``), bit for bit; in double-double the same products, each within a few
``2**-106`` of exact. ``masked_sums_double_double`` sums one row's double-double ``Z`` over subsets
of its terms (the triage's re-checks, ``_engine.left_out_answers``); ``term_sums_double_double``
makes the same masked sums as it goes, where one patient's answer is asked with the re-checks'
subsets (``_engine.infer_codes``'s ``left_out``).
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


@numba.njit(inline="always")
def _two_sum(a, b):
    """``a + b`` as ``(s, e)`` with ``s + e`` exact (Knuth), whatever the signs."""
    s = a + b
    v = s - a
    return s, (a - (s - v)) + (b - v)


@numba.njit(inline="always")
def _add_signed(ah, al, bh, bl):
    """``(ah + al) + (bh + bl)`` as a double-double, accurate whatever the signs (Hida, Li and
    Bailey's IEEE addition), for the signed sums over terms, which cancel."""
    s, e = _two_sum(ah, bh)
    t, f = _two_sum(al, bl)
    e += t
    hi = s + e
    e = e - (hi - s) + f
    s = hi + e
    return s, e - (s - hi)


@numba.njit(inline="always")
def _columns_float64(
    first, m, n_terms, cause_start, cause_end, steps, gather, operands, final, owner,
    priors, alpha, beta, absent, present, active,
    work, grad, cavity, run, after, prefix, weighted, row, term, z, picked,
):  # fmt: skip
    """One block of ``m`` columns from ``first``: each column's (row, term) in ``row``, ``term`` and its
    ``Z`` over the clamps in ``z[b]`` (no clamp: the final product; cause ``c`` present or activating:
    the cause's cavity summed against beta, times ``present`` or ``active``)."""
    n_entries = cause_end - cause_start
    _locate(first, m, n_terms, row, term)
    # the block's multipliers, cause by cause: the loops over columns below then read them in order
    # rather than gathering each from its (row, term, cause)
    n_causes = present.shape[2]
    for b in range(m):
        r, t = row[b], term[b]
        for c in range(n_causes):
            picked[0, c, b] = absent[r, t, c]
            picked[1, c, b] = present[r, t, c]
    # initial factors: priors, then g = alpha * absent + beta * present per cause entry
    for e in range(cause_start):
        for b in range(m):
            work[e, b] = priors[e, row[b] if priors.shape[1] > 1 else 0]
    for e in range(n_entries):
        c = owner[e]
        for b in range(m):
            r = row[b] if alpha.shape[1] > 1 else 0
            work[cause_start + e, b] = alpha[e, r] * picked[0, c, b] + beta[e, r] * picked[1, c, b]
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
    n_final = final.shape[0]
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
        r, t = row[b], term[b]
        z[b, 0] = prefix[n_final, b]
        for c in range(n_causes):
            z[b, 1 + c] = weighted[c, b] * present[r, t, c]
            z[b, 1 + n_causes + c] = weighted[c, b] * active[r, t, c]


@numba.njit(inline="always")
def _workspace_float64(width, steps, n_final, n_causes):
    """The buffers of :func:`_columns_float64`."""
    return (
        np.empty((width, BLOCK)),  # work
        np.empty((width, BLOCK)),  # grad
        np.empty((_widest(steps), BLOCK)),  # cavity
        np.empty(BLOCK),  # run
        np.empty(BLOCK),  # after
        np.empty((n_final + 1, BLOCK)),  # prefix
        np.empty((n_causes, BLOCK)),  # weighted
        np.empty(BLOCK, dtype=np.int64),  # row
        np.empty(BLOCK, dtype=np.int64),  # term
        np.empty((BLOCK, 1 + 2 * n_causes)),  # z
        np.empty((2, n_causes, BLOCK)),  # picked: the block's absent and present multipliers
    )


@numba.njit(cache=True, nogil=True, boundscheck=False)
def eliminate_float64(
    width, cause_start, cause_end, steps, gather, operands, final, owner, priors, alpha, beta, absent, present, active
):
    """``Z[r, t, j]`` as :func:`numbdx._engine._eliminate_columns` returns it, in float64.

    ``steps``, ``gather``, ``operands``, ``final``, ``owner``: the plan (``_Packed``); ``priors``,
    ``alpha``, ``beta`` ``(entries, 1|R)``; ``absent``, ``present``, ``active`` ``(R, T, C)``."""
    n_rows, n_terms, n_causes = present.shape
    n = n_rows * n_terms
    n_final = final.shape[0]
    out = np.empty((n, 1 + 2 * n_causes))
    work, grad, cavity, run, after, prefix, weighted, row, term, z, picked = _workspace_float64(
        width, steps, n_final, n_causes
    )
    for first in range(0, n, BLOCK):
        m = min(BLOCK, n - first)
        _columns_float64(
            first, m, n_terms, cause_start, cause_end, steps, gather, operands, final, owner,
            priors, alpha, beta, absent, present, active,
            work, grad, cavity, run, after, prefix, weighted, row, term, z, picked,
        )  # fmt: skip
        out[first : first + m] = z[:m]
    return out.reshape(n_rows, n_terms, 1 + 2 * n_causes)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def term_sums_float64(
    width, cause_start, cause_end, steps, gather, operands, final, owner, priors, alpha, beta, absent, present, active,
    coef,
):  # fmt: skip
    """``sum_t coef[r, t] * Z[r, t, j]`` and ``sum_t |coef[r, t]| * Z[r, t, j]``: ``(R, 2, J)``, with
    :func:`eliminate_float64`'s ``Z`` (the same numbers) summed as it is made, so that ``Z`` never
    reaches memory. Each product is taken exactly (``fma``) and added in double-double in term order,
    then rounded once: the sum is as good as exact to float64, whatever the cancellation."""
    n_rows, n_terms, n_causes = present.shape
    n = n_rows * n_terms
    n_final = final.shape[0]
    n_out = 1 + 2 * n_causes
    hi = np.zeros((n_rows, 2, n_out))
    lo = np.zeros((n_rows, 2, n_out))
    work, grad, cavity, run, after, prefix, weighted, row, term, z, picked = _workspace_float64(
        width, steps, n_final, n_causes
    )
    for first in range(0, n, BLOCK):
        m = min(BLOCK, n - first)
        _columns_float64(
            first, m, n_terms, cause_start, cause_end, steps, gather, operands, final, owner,
            priors, alpha, beta, absent, present, active,
            work, grad, cavity, run, after, prefix, weighted, row, term, z, picked,
        )  # fmt: skip
        for b in range(m):
            r, t = row[b], term[b]
            signed, size = coef[r, t], abs(coef[r, t])
            for j in range(n_out):
                p = signed * z[b, j]
                hi[r, 0, j], lo[r, 0, j] = _add_signed(hi[r, 0, j], lo[r, 0, j], p, _fma(signed, z[b, j], -p))
                p = size * z[b, j]
                hi[r, 1, j], lo[r, 1, j] = _add(hi[r, 1, j], lo[r, 1, j], p, _fma(size, z[b, j], -p))
    return hi


@numba.njit(inline="always")
def _columns_double_double(
    first, m, n_terms, cause_start, cause_end, steps, gather, operands, final, owner,
    priors, alpha, beta, absent, present, active,
    work, grad, cavity, run, after, prefix, weighted, row, term, z,
):  # fmt: skip
    """:func:`_columns_float64` in double-double: every float array has a leading axis of two (the
    high and low parts)."""
    work_hi, work_lo, grad_hi, grad_lo = work[0], work[1], grad[0], grad[1]
    cavity_hi, cavity_lo, run_hi, run_lo, after_hi, after_lo = cavity[0], cavity[1], run[0], run[1], after[0], after[1]
    prefix_hi, prefix_lo, weighted_hi, weighted_lo = prefix[0], prefix[1], weighted[0], weighted[1]
    n_entries = cause_end - cause_start
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
    n_final = final.shape[0]
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
    n_causes = present.shape[3]
    z_hi, z_lo = z[0], z[1]
    for b in range(m):
        r, t = row[b], term[b]
        z_hi[b, 0], z_lo[b, 0] = prefix_hi[n_final, b], prefix_lo[n_final, b]
        for c in range(n_causes):
            w_hi, w_lo = weighted_hi[c, b], weighted_lo[c, b]
            z_hi[b, 1 + c], z_lo[b, 1 + c] = _mul(w_hi, w_lo, present[0, r, t, c], present[1, r, t, c])
            z_hi[b, 1 + n_causes + c], z_lo[b, 1 + n_causes + c] = _mul(
                w_hi, w_lo, active[0, r, t, c], active[1, r, t, c]
            )


@numba.njit(inline="always")
def _workspace_double_double(width, steps, n_final, n_causes):
    """The buffers of :func:`_columns_double_double`: :func:`_workspace_float64`'s, each with a leading
    axis of two (high and low parts)."""
    return (
        np.empty((2, width, BLOCK)),  # work
        np.empty((2, width, BLOCK)),  # grad
        np.empty((2, _widest(steps), BLOCK)),  # cavity
        np.empty((2, BLOCK)),  # run
        np.empty((2, BLOCK)),  # after
        np.empty((2, n_final + 1, BLOCK)),  # prefix
        np.empty((2, n_causes, BLOCK)),  # weighted
        np.empty(BLOCK, dtype=np.int64),  # row
        np.empty(BLOCK, dtype=np.int64),  # term
        np.empty((2, BLOCK, 1 + 2 * n_causes)),  # z
    )


@numba.njit(cache=True, nogil=True, boundscheck=False)
def eliminate_double_double(
    width, cause_start, cause_end, steps, gather, operands, final, owner, priors, alpha, beta, absent, present, active
):
    """:func:`eliminate_float64` in double-double: every float array has a leading axis of two (the
    high and low parts), the result too: ``(2, R, T, J)``."""
    n_rows, n_terms, n_causes = present.shape[1:]
    n = n_rows * n_terms
    n_final = final.shape[0]
    out = np.empty((2, n, 1 + 2 * n_causes))
    work, grad, cavity, run, after, prefix, weighted, row, term, z = _workspace_double_double(
        width, steps, n_final, n_causes
    )
    for first in range(0, n, BLOCK):
        m = min(BLOCK, n - first)
        _columns_double_double(
            first, m, n_terms, cause_start, cause_end, steps, gather, operands, final, owner,
            priors, alpha, beta, absent, present, active,
            work, grad, cavity, run, after, prefix, weighted, row, term, z,
        )  # fmt: skip
        out[:, first : first + m] = z[:, :m]
    return out.reshape(2, n_rows, n_terms, 1 + 2 * n_causes)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def term_sums_double_double(
    width, cause_start, cause_end, steps, gather, operands, final, owner, priors, alpha, beta, absent, present, active,
    coef, masks, columns,
):  # fmt: skip
    """:func:`term_sums_float64` in double-double (``coef`` too: ``(2, R, T)``): the sums
    ``(2, R, 2, J)``, each row's largest ``Z`` with no clamp, high part (``(R,)``: the engine
    leaves rows below ``_kernel.TINY`` to numpy), and the sums over subsets of the terms:
    ``(2, K, 2, len(columns))`` for the ``K`` masks of ``masks (K, T)`` (bool) and the ``Z`` columns
    ``columns`` (one row's; the triage's re-checks), as :func:`masked_sums_double_double` makes them
    from this ``Z``, bit for bit, without ``Z`` reaching memory. ``K`` may be 0."""
    n_rows, n_terms, n_causes = present.shape[1:]
    n = n_rows * n_terms
    n_final = final.shape[0]
    n_out = 1 + 2 * n_causes
    sums = np.zeros((2, n_rows, 2, n_out))
    largest = np.zeros(n_rows)
    n_masks, n_columns = masks.shape[0], columns.shape[0]
    masked = np.zeros((2, n_masks, 2, n_columns))
    work, grad, cavity, run, after, prefix, weighted, row, term, z = _workspace_double_double(
        width, steps, n_final, n_causes
    )
    for first in range(0, n, BLOCK):
        m = min(BLOCK, n - first)
        _columns_double_double(
            first, m, n_terms, cause_start, cause_end, steps, gather, operands, final, owner,
            priors, alpha, beta, absent, present, active,
            work, grad, cavity, run, after, prefix, weighted, row, term, z,
        )  # fmt: skip
        z_hi, z_lo = z[0], z[1]
        for b in range(m):
            r, t = row[b], term[b]
            largest[r] = max(largest[r], abs(z_hi[b, 0]))
            c_hi, c_lo = coef[0, r, t], coef[1, r, t]
            a_hi, a_lo = (c_hi, c_lo) if c_hi >= 0 else (-c_hi, -c_lo)
            for j in range(n_out):
                x_hi, x_lo = _mul(c_hi, c_lo, z_hi[b, j], z_lo[b, j])
                sums[0, r, 0, j], sums[1, r, 0, j] = _add_signed(sums[0, r, 0, j], sums[1, r, 0, j], x_hi, x_lo)
                x_hi, x_lo = _mul(a_hi, a_lo, z_hi[b, j], z_lo[b, j])
                sums[0, r, 1, j], sums[1, r, 1, j] = _add(sums[0, r, 1, j], sums[1, r, 1, j], x_hi, x_lo)
            for k in range(n_masks):
                if not masks[k, t]:
                    continue
                for i in range(n_columns):
                    j = columns[i]
                    x_hi, x_lo = _mul(c_hi, c_lo, z_hi[b, j], z_lo[b, j])
                    masked[0, k, 0, i], masked[1, k, 0, i] = _add_signed(
                        masked[0, k, 0, i], masked[1, k, 0, i], x_hi, x_lo
                    )
                    x_hi, x_lo = _mul(a_hi, a_lo, z_hi[b, j], z_lo[b, j])
                    masked[0, k, 1, i], masked[1, k, 1, i] = _add(masked[0, k, 1, i], masked[1, k, 1, i], x_hi, x_lo)
    return sums, largest, masked


@numba.njit(inline="always")
def _block_terms(
    codes, in_block, choice_start, choice_width, widths, choice_coef, choice_vectors, coef, vectors, seen
):  # fmt: skip
    """One block's terms (gated findings or the others) for one row, as ``_engine._block`` makes them:
    the width-1 observations' product first, in column order, then each wider observation (by
    width, then column) multiplying every term so far by each of its choices (term ``t * w + j``).
    Writes ``coef[:T]`` and ``vectors[:, :T]`` (absent, present, not activated); returns ``T``.
    ``seen``: room for the row's observations (``F`` entries), listed once rather than scanning every
    column for each width (build_terms_float64 on bench_batch's cohort: 88 -> 50 ms)."""
    n_causes = vectors.shape[2]
    coef[0] = 1.0
    for k in range(3):
        for c in range(n_causes):
            vectors[k, 0, c] = 1.0
    # the row's observations in this block, in column order: each width's pass reads these alone
    n_seen = 0
    for f in range(codes.shape[0]):
        if codes[f] >= 0 and in_block[f] != 0:
            seen[n_seen] = f
            n_seen += 1
    n = 1
    for w in widths:
        for i in range(n_seen):
            f = seen[i]
            code = codes[f]
            if choice_width[f, code] != w:
                continue
            first = choice_start[f, code]
            if w == 1:
                coef[0] = coef[0] * choice_coef[first]
                for k in range(3):
                    for c in range(n_causes):
                        vectors[k, 0, c] = vectors[k, 0, c] * choice_vectors[k, first, c]
                continue
            for t in range(n - 1, -1, -1):  # in place, from the end: term t * w + j >= t
                before = coef[t]
                for j in range(w - 1, -1, -1):
                    coef[t * w + j] = before * choice_coef[first + j]
                for k in range(3):
                    for j in range(w - 1, -1, -1):  # j = 0 last: it overwrites term t itself when t = 0
                        for c in range(n_causes):
                            vectors[k, t * w + j, c] = vectors[k, t, c] * choice_vectors[k, first + j, c]
            n *= w
    return n


@numba.njit(cache=True, nogil=True, boundscheck=False)
def build_terms_float64(
    choice_start, choice_width, widths, gated, choice_coef, choice_vectors, side_subset, side_coef, side_count,
    activation, subset_mult, findings, side, n_terms,
):  # fmt: skip
    """Rows' terms as ``_engine._group_terms`` makes them, bit for bit (the same products in the same
    order), whatever each row's term structure, as long as every row has ``n_terms`` terms:
    ``coef (R, T)`` and ``absent``, ``present``, ``active`` ``(R, T, C)``. Each row's gated block,
    side terms and other block combine into term ``(side_term * T_gated + t_gated) * T_other +
    t_other``. A row whose evidence expands into another number of terms raises ValueError.

    ``choice_*``, ``widths``, ``gated``, ``side_*``: the model's tables (``_engine._term_tables``);
    ``activation (C,)``, ``subset_mult (4, C)``: the side finding's; ``findings (R, F)`` codes and
    ``side (R,)`` as in ``_engine.Codes``."""
    n_rows = findings.shape[0]
    n_causes = activation.shape[0]
    coef = np.empty((n_rows, n_terms))
    absent = np.empty((n_rows, n_terms, n_causes))
    present = np.empty((n_rows, n_terms, n_causes))
    active = np.empty((n_rows, n_terms, n_causes))
    g_coef, o_coef = np.empty(n_terms), np.empty(n_terms)
    g_vectors, o_vectors = np.empty((3, n_terms, n_causes)), np.empty((3, n_terms, n_causes))
    active_n, present_n = np.empty(n_causes), np.empty(n_causes)
    seen = np.empty(findings.shape[1], dtype=np.int64)  # a row's observations in one block
    other = 1 - gated
    for r in range(n_rows):
        codes = findings[r]
        n_gated = _block_terms(
            codes, gated, choice_start, choice_width, widths, choice_coef, choice_vectors, g_coef, g_vectors, seen
        )
        n_other = _block_terms(
            codes, other, choice_start, choice_width, widths, choice_coef, choice_vectors, o_coef, o_vectors, seen
        )
        s = side[r]
        if side_count[s] * n_gated * n_other != n_terms:
            raise ValueError("a row's terms differ in number from its group's")
        for i in range(side_count[s]):
            subset, sign = side_subset[s, i], side_coef[s, i]
            for tg in range(n_gated):
                tn = i * n_gated + tg
                signed = sign * g_coef[tg]
                for c in range(n_causes):
                    active_n[c] = activation[c] * subset_mult[subset, c] * g_vectors[1, tg, c]
                    present_n[c] = (1.0 - activation[c]) * g_vectors[2, tg, c] + active_n[c]
                for to in range(n_other):
                    t = tn * n_other + to
                    coef[r, t] = signed * o_coef[to]
                    for c in range(n_causes):
                        absent[r, t, c] = g_vectors[0, tg, c] * o_vectors[0, to, c]
                        present[r, t, c] = present_n[c] * o_vectors[1, to, c]
                        active[r, t, c] = active_n[c] * o_vectors[1, to, c]
    return coef, absent, present, active


@numba.njit(inline="always")
def _block_terms_double_double(
    codes, in_block, choice_start, choice_width, widths, choice_coef, choice_vectors, coef, vectors, seen
):  # fmt: skip
    """:func:`_block_terms` in double-double: ``coef (2, T)``, ``vectors (2, 3, T, C)``."""
    n_causes = vectors.shape[3]
    coef[0, 0], coef[1, 0] = 1.0, 0.0
    for k in range(3):
        for c in range(n_causes):
            vectors[0, k, 0, c], vectors[1, k, 0, c] = 1.0, 0.0
    n_seen = 0
    for f in range(codes.shape[0]):
        if codes[f] >= 0 and in_block[f] != 0:
            seen[n_seen] = f
            n_seen += 1
    n = 1
    for w in widths:
        for i in range(n_seen):
            f = seen[i]
            code = codes[f]
            if choice_width[f, code] != w:
                continue
            first = choice_start[f, code]
            for t in range(n - 1, -1, -1):  # in place, from the end: term t * w + j >= t
                b_hi, b_lo = coef[0, t], coef[1, t]
                for j in range(w - 1, -1, -1):
                    coef[0, t * w + j], coef[1, t * w + j] = _mul(b_hi, b_lo, choice_coef[first + j], 0.0)
                for k in range(3):
                    for c in range(n_causes):
                        b_hi, b_lo = vectors[0, k, t, c], vectors[1, k, t, c]
                        for j in range(w - 1, -1, -1):
                            x_hi, x_lo = _mul(b_hi, b_lo, choice_vectors[k, first + j, c], 0.0)
                            vectors[0, k, t * w + j, c], vectors[1, k, t * w + j, c] = x_hi, x_lo
            n *= w
    return n


@numba.njit(cache=True, nogil=True, boundscheck=False)
def build_terms_double_double(
    choice_start, choice_width, widths, gated, choice_coef, choice_vectors, side_subset, side_coef, side_count,
    activation, subset_mult, findings, side, n_terms,
):  # fmt: skip
    """:func:`build_terms_float64` in double-double, for the double-double eliminations: each array
    with a leading axis of two (high and low parts). The products are of float64 numbers, so each
    term is within about ``2**-104`` per factor of its exact value, where numpy's ``np.longdouble``
    terms are within ``2**-64``."""
    n_rows = findings.shape[0]
    n_causes = activation.shape[0]
    coef = np.empty((2, n_rows, n_terms))
    absent = np.empty((2, n_rows, n_terms, n_causes))
    present = np.empty((2, n_rows, n_terms, n_causes))
    active = np.empty((2, n_rows, n_terms, n_causes))
    g_coef, o_coef = np.empty((2, n_terms)), np.empty((2, n_terms))
    g_vectors, o_vectors = np.empty((2, 3, n_terms, n_causes)), np.empty((2, 3, n_terms, n_causes))
    active_n, present_n = np.empty((2, n_causes)), np.empty((2, n_causes))
    seen = np.empty(findings.shape[1], dtype=np.int64)  # a row's observations in one block
    other = 1 - gated
    for r in range(n_rows):
        codes = findings[r]
        n_gated = _block_terms_double_double(
            codes, gated, choice_start, choice_width, widths, choice_coef, choice_vectors, g_coef, g_vectors, seen
        )
        n_other = _block_terms_double_double(
            codes, other, choice_start, choice_width, widths, choice_coef, choice_vectors, o_coef, o_vectors, seen
        )
        s = side[r]
        if side_count[s] * n_gated * n_other != n_terms:
            raise ValueError("a row's terms differ in number from its group's")
        for i in range(side_count[s]):
            subset, sign = side_subset[s, i], side_coef[s, i]
            for tg in range(n_gated):
                tn = i * n_gated + tg
                signed_hi, signed_lo = _mul(sign, 0.0, g_coef[0, tg], g_coef[1, tg])
                for c in range(n_causes):
                    a_hi, a_lo = _mul(activation[c], 0.0, subset_mult[subset, c], 0.0)
                    a_hi, a_lo = _mul(a_hi, a_lo, g_vectors[0, 1, tg, c], g_vectors[1, 1, tg, c])
                    active_n[0, c], active_n[1, c] = a_hi, a_lo
                    q_hi, q_lo = _two_sum(1.0, -activation[c])
                    q_hi, q_lo = _mul(q_hi, q_lo, g_vectors[0, 2, tg, c], g_vectors[1, 2, tg, c])
                    present_n[0, c], present_n[1, c] = _add(q_hi, q_lo, a_hi, a_lo)
                for to in range(n_other):
                    t = tn * n_other + to
                    coef[0, r, t], coef[1, r, t] = _mul(signed_hi, signed_lo, o_coef[0, to], o_coef[1, to])
                    for c in range(n_causes):
                        g_hi, g_lo = g_vectors[0, 0, tg, c], g_vectors[1, 0, tg, c]
                        o_hi, o_lo = o_vectors[0, 0, to, c], o_vectors[1, 0, to, c]
                        absent[0, r, t, c], absent[1, r, t, c] = _mul(g_hi, g_lo, o_hi, o_lo)
                        o_hi, o_lo = o_vectors[0, 1, to, c], o_vectors[1, 1, to, c]
                        present[0, r, t, c], present[1, r, t, c] = _mul(present_n[0, c], present_n[1, c], o_hi, o_lo)
                        active[0, r, t, c], active[1, r, t, c] = _mul(active_n[0, c], active_n[1, c], o_hi, o_lo)
    return coef, absent, present, active


@numba.njit(cache=True, nogil=True, boundscheck=False)
def masked_sums_double_double(z, coef, masks):
    """For each mask ``k`` (``masks (K, T)`` bool), ``sum_t coef[t] * z[t, j]`` and ``sum_t |coef[t]| *
    z[t, j]`` over the terms it keeps: ``(2, K, 2, J)``, from double-doubles ``z (2, T, J)`` and
    ``coef (2, T)``, summed in double-double in term order (as :func:`term_sums_double_double`)."""
    n_masks, n_terms = masks.shape
    n_out = z.shape[2]
    sums = np.zeros((2, n_masks, 2, n_out))
    for t in range(n_terms):
        c_hi, c_lo = coef[0, t], coef[1, t]
        a_hi, a_lo = (c_hi, c_lo) if c_hi >= 0 else (-c_hi, -c_lo)
        for k in range(n_masks):
            if not masks[k, t]:
                continue
            for j in range(n_out):
                x_hi, x_lo = _mul(c_hi, c_lo, z[0, t, j], z[1, t, j])
                sums[0, k, 0, j], sums[1, k, 0, j] = _add_signed(sums[0, k, 0, j], sums[1, k, 0, j], x_hi, x_lo)
                x_hi, x_lo = _mul(a_hi, a_lo, z[0, t, j], z[1, t, j])
                sums[0, k, 1, j], sums[1, k, 1, j] = _add(sums[0, k, 1, j], sums[1, k, 1, j], x_hi, x_lo)
    return sums


POWERS_OF_TWO = np.ldexp(1.0, np.arange(-1074, 1024))  # every power of two float64 holds


@numba.njit(inline="always")
def _times_power_of_two(x, exponent, powers):
    """``x * 2**exponent``, rounded once (``x``: an integer below 2**54): exact while the result is
    a normal float64, subnormal or zero below, infinite above."""
    k = exponent + 1074
    if k < 0:  # in two exact-then-rounding steps: no power of two that small is a float64
        return (x * powers[k + 600]) * powers[1074 - 600] if k + 600 >= 0 else 0.0 * x
    if k >= powers.shape[0]:
        return x * np.inf
    return x * powers[k]


@numba.njit(cache=True, nogil=True, boundscheck=False)
def split_x87(words, powers):
    """x87 80-bit long doubles as double-doubles ``(2, N)`` with ``hi + lo`` exactly each value:
    ``words (N, 2)`` uint64 is the long doubles' memory (little-endian: the 64-bit significand with
    its explicit integer bit, then sign and exponent); ``powers``: :data:`POWERS_OF_TWO`. ``hi`` is
    the significand rounded to 53 bits (halves up), ``lo`` the 11 bits left, signed; both are exact
    in float64 down to about 2**-1000 (smaller values lose bits, as a cast to float64 does). What
    ``np.longdouble`` arithmetic does in several passes, in one."""
    n = words.shape[0]
    out = np.empty((2, n))
    one, ten, eleven = np.uint64(1), np.uint64(10), np.uint64(11)
    for i in range(n):
        significand = words[i, 0]
        biased = np.int64(words[i, 1] & np.uint64(0x7FFF))
        up = (significand >> ten) & one
        if biased == 0x7FFF:  # infinity or NaN: no finite parts
            high, low = (np.inf if significand << one == 0 else np.nan), 0.0
        else:
            exponent = biased - 16383 - 63  # the value is significand * 2**exponent
            high = _times_power_of_two(np.float64((significand >> eleven) + up), exponent + 11, powers)
            low = np.float64(np.int64(significand & np.uint64(0x7FF)) - np.int64(up << eleven))
            low = _times_power_of_two(low, exponent, powers)
        if words[i, 1] & np.uint64(0x8000):
            high, low = -high, -low
        out[0, i], out[1, i] = high, low
    return out


# --- double-double arrays for the elimination over the findings' choices (_choice_elimination) --------
# numpy ufuncs over broadcast operands: the operations of _choice_elimination's numpy _mul and _add in
# the same order (the product's error exact by fma where numpy's is exact by Dekker's split, so the
# same value), without numpy's twenty temporaries per operation


@numba.guvectorize(
    ["void(float64, float64, float64, float64, float64[:], float64[:])"], "(),(),(),()->(),()", cache=True
)
def dd_mul(ah, al, bh, bl, hi, lo):  # pragma: no cover - compiled
    hi[0], lo[0] = _mul(ah, al, bh, bl)


@numba.guvectorize(
    ["void(float64, float64, float64, float64, float64[:], float64[:])"], "(),(),(),()->(),()", cache=True
)
def dd_add(ah, al, bh, bl, hi, lo):  # pragma: no cover - compiled
    hi[0], lo[0] = _add_signed(ah, al, bh, bl)
