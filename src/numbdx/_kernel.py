"""Which implementation runs the column elimination: numpy (always there) or the compiled kernels of
:mod:`numbdx._numba_kernels` (the ``numba`` extra: ``pip install "numbdx[numba]"``).

When numba can be imported, the kernels run frames' eliminations, one patient's from
``_engine.KERNEL_MIN_TERMS`` terms per row, and one patient's extended precision whatever its terms
(the engine decides which calls may use them);
``NUMBDX_KERNEL=numpy`` in the environment, or :func:`use`, keeps to numpy. numba is imported on the
first elimination that uses it, never at ``import numbdx``: importing it costs about 0.3 s, which one
patient's usual query (answered in float64) never pays. Once it is imported (:func:`loaded`), smaller eliminations in
float64 run on :func:`eliminate` too: its ``Z`` is numpy's bit for bit, and the sums over terms stay
numpy's, so their answers are the same either way, about twice as fast (most article cases: 2.5 ->
1.2 ms per ``infer``). Kernels are compiled once and cached on disk by numba (``cache=True``); the
first run after installing compiles them (about 7 s).

Two entry points eliminate: :func:`eliminate` returns ``Z`` over (row, term); :func:`term_sums`
returns the sums over each row's terms of ``coef * Z`` and ``|coef| * Z``, which the kernel adds up as
it makes ``Z`` (exact products and double-double sums, then one rounding), so that the engine neither
writes ``Z`` out nor converts it. This is what the engine uses; numpy's own sums
(``_engine._term_sums``) round at every addition, so the two paths' sums differ in their last bits,
well inside the engine's bound. :func:`build_terms` makes the terms themselves for rows of any term
structures at once (numpy builds each structure apart, which on frames costs more than building: most
structures have a row or two), and :func:`masked_sums` sums one row's double-double ``Z`` over
subsets of its terms (the triage's re-checks); :func:`masked_term_sums` makes those sums together
with the row's own, in one elimination.

What each implementation returns:

- float64: the kernel's numbers are the numpy path's, bit for bit;
- extended precision: numpy uses ``np.longdouble`` (64-bit significand on x86), the kernel
  double-double (about 104 bits), so the engine's bound for extended precision holds for both (it
  counts in the coarser of ``np.longdouble``'s ``eps`` and :data:`DOUBLE_DOUBLE_EPS`: where
  ``np.longdouble`` is IEEE quad, double-double is the coarser). The kernel's terms are
  :class:`DoubleDouble`, rounded to ``np.longdouble`` only for the rows numpy takes over. A row
  whose ``Z`` is below ``TINY`` is recomputed with numpy:
  double-double has float64's exponent range, which ``np.longdouble`` exceeds, and its low part loses
  bits before float64 underflows. Rows whose ``Z`` is zero by structure (not by underflow) keep the
  kernel's exact zeros (see :func:`_left_to_numpy`).

Either way a row's numbers depend on its own evidence alone, never on the other rows of its batch.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

ENVIRONMENT = "NUMBDX_KERNEL"
CHOICES = ("auto", "numba", "numpy")
TINY = 2.0**-900  # double-double keeps its ~104 bits down to about 2**-969
# what the engine's bound counts per double-double operation: the product (Dekker's, with fma) and the
# sums here are within a few u**2 (u = 2**-53; Joldes, Muller and Popescu 2017), 2**-100 is 64 u**2
DOUBLE_DOUBLE_EPS = 2.0**-100

_forced: str | None = None
_module: ModuleType | None = None
_missing: str | None = None


def _choice() -> str:
    choice = _forced or os.environ.get(ENVIRONMENT, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENVIRONMENT} must be one of {CHOICES}, got {choice!r}")
    return choice


def _kernels() -> ModuleType | None:
    """The compiled kernels, or None where numba is not installed or not wanted."""
    global _module, _missing
    choice = _choice()
    if choice == "numpy":
        return None
    if _module is None and _missing is None:
        try:
            from . import _numba_kernels
        except ImportError as exc:  # the extra is not installed
            _missing = str(exc)
        else:
            _module = _numba_kernels
    if _module is None and choice == "numba":
        raise ImportError(f"{ENVIRONMENT}=numba needs numba (pip install 'numbdx[numba]'): {_missing}")
    return _module


def loaded() -> bool:
    """Whether the kernels are in use and already imported in this process; imports nothing (numba's
    import costs far more than a small query)."""
    return _module is not None and _choice() != "numpy"


def active() -> str:
    """``"numba"`` or ``"numpy"``: what the next column elimination will run on."""
    return "numba" if _kernels() is not None else "numpy"


@contextlib.contextmanager
def use(choice: str) -> Iterator[None]:
    """Run the column elimination on ``choice`` (``"auto"``, ``"numba"`` or ``"numpy"``) inside the
    block, whatever ``NUMBDX_KERNEL`` says: for tests and benchmarks that compare the two."""
    global _forced
    if choice not in CHOICES:
        raise ValueError(f"kernel must be one of {CHOICES}, got {choice!r}")
    before, _forced = _forced, choice
    try:
        _kernels()  # fail here, not inside the block, when numba is asked for and missing
        yield
    finally:
        _forced = before


# np.longdouble as x86's 80-bit format, stored in 16 little-endian bytes (Linux and macOS on x86-64)
X87 = np.finfo(np.longdouble).nmant == 63 and np.dtype(np.longdouble).itemsize == 16 and sys.byteorder == "little"


class DoubleDouble:
    """Numbers held in double-double (``parts``: ``(2, *shape)``, high and low float64 parts): terms
    the kernel built, one context's exactly made tables (``_engine._exact_factors``), or a ``Z`` kept
    unrounded. They stand where the engine otherwise passes ``np.longdouble`` arrays: indexed on their
    leading axes like those, and rounded to ``np.longdouble`` by :func:`as_array` where numpy takes
    over (the rows left to it)."""

    __slots__ = ("parts",)

    def __init__(self, parts: np.ndarray) -> None:
        self.parts = parts

    @property
    def shape(self) -> tuple[int, ...]:
        return self.parts.shape[1:]

    def __len__(self) -> int:
        return self.parts.shape[1]

    def __getitem__(self, key: Any) -> DoubleDouble:
        return DoubleDouble(self.parts[(slice(None), *(key if isinstance(key, tuple) else (key,)))])


def as_array(x: np.ndarray | DoubleDouble) -> np.ndarray:
    """``x`` as numpy takes it: a :class:`DoubleDouble` rounded to ``np.longdouble``."""
    return _joined(x.parts) if isinstance(x, DoubleDouble) else x


def _split(x: np.ndarray | DoubleDouble, kernels: ModuleType | None = None) -> np.ndarray:
    """``(2, *x.shape)`` float64 high and low parts whose sum is ``x`` exactly (``x``: np.longdouble
    with at most 106 significant bits, which is every long double numpy has on x86), by the
    kernels' bit-level split where the format is x87's (six times faster than numpy's long double
    arithmetic, measured), else with numpy. A :class:`DoubleDouble` is split already."""
    if isinstance(x, DoubleDouble):
        return np.ascontiguousarray(x.parts)
    if kernels is not None and X87 and x.dtype == np.longdouble:
        words = np.ascontiguousarray(x).reshape(-1).view(np.uint64).reshape(-1, 2)
        return kernels.split_x87(words, kernels.POWERS_OF_TWO).reshape(2, *x.shape)
    parts = np.empty((2, *x.shape))
    parts[0] = x
    parts[1] = x - parts[0]
    return parts


def _joined(parts: np.ndarray) -> np.ndarray:
    """The double-double ``parts`` (leading axis of two) rounded to np.longdouble."""
    joined = parts[0].astype(np.longdouble)
    joined += parts[1]
    return joined


def _plan_arguments(packed: Any) -> tuple:
    """The plan's flat tables, as the kernels take them first."""
    return (
        packed.width,
        packed.cause_start,
        packed.cause_end,
        packed.kernel_steps,
        packed.kernel_gather,
        packed.kernel_operands,
        packed.final,
        packed.cause_of_entry,
    )


def _arguments(packed: Any, tables: tuple[np.ndarray, ...], dtype: type) -> tuple[ModuleType, bool, tuple] | None:
    """The kernels, whether to run them in double-double, and their arguments: the plan's flat tables
    then the float tables; None where the kernel does not run (numba absent or not wanted, or a dtype
    it has no kernel for)."""
    kernels = _kernels()
    if kernels is None or dtype not in (np.float64, np.longdouble):
        return None
    plan = _plan_arguments(packed)
    if double_double(dtype):
        return kernels, True, (*plan, *(_split(t, kernels) for t in tables))
    return kernels, False, (*plan, *(np.ascontiguousarray(t, dtype=np.float64) for t in tables))


def eliminate(
    packed: Any,  # _engine._Packed (not imported: this module sits below the engine)
    arrays: tuple[np.ndarray, ...],
    dtype: type,
    *,
    keep_double_double: bool = False,
) -> tuple[np.ndarray | DoubleDouble, np.ndarray] | None:
    """``Z (R, T, J)`` as ``_engine._eliminate_columns`` defines it, by the compiled kernel, and the
    rows it leaves to numpy (those whose terms' ``Z`` are all below ``TINY``); or None where the
    kernel does not run (numba absent or not wanted, or a dtype it has no kernel for). ``arrays``:
    ``(priors, alpha, beta, absent, present, active)``, as the engine's elimination takes them.
    ``keep_double_double``: a double-double ``Z`` is returned as it is (:class:`DoubleDouble`), not
    rounded to ``np.longdouble``."""
    prepared = _arguments(packed, arrays, dtype)
    if prepared is None:
        return None
    kernels, double_double, arguments = prepared
    if not double_double:
        return kernels.eliminate_float64(*arguments).astype(dtype, copy=False), np.zeros(0, dtype=np.int64)
    parts = kernels.eliminate_double_double(*arguments)
    largest = np.abs(parts[0, :, :, 0]).max(axis=1, initial=0.0)
    z = DoubleDouble(parts) if keep_double_double else _joined(parts)
    return z, _left_to_numpy(kernels, packed, arrays, largest)


def masked_sums(z: DoubleDouble, coef: DoubleDouble, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For one row's double-double ``z (T, J)`` and ``coef (T,)``, and each mask of ``masks (K, T)``:
    ``sum_t coef * z`` and ``sum_t |coef| * z`` over the terms it keeps, each ``(K, J)`` in
    ``np.longdouble``, summed in double-double then rounded once (as :func:`term_sums`)."""
    sums = _joined(
        _kernels().masked_sums_double_double(
            np.ascontiguousarray(z.parts), np.ascontiguousarray(coef.parts), np.ascontiguousarray(masks)
        )
    )
    return sums[:, 0], sums[:, 1]


def term_sums(
    packed: Any, arrays: tuple[np.ndarray, ...], coef: np.ndarray, dtype: type
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``sum_t coef[r, t] * Z[r, t, j]`` and ``sum_t |coef[r, t]| * Z[r, t, j]`` (each ``(R, J)``) with
    :func:`eliminate`'s ``Z`` (and its ``arrays``), summed in the kernel as ``Z`` is made (in
    double-double, in term order), and the rows left to numpy as :func:`eliminate` leaves them (their
    sums here are not to be used); or None where the kernel does not run."""
    prepared = _arguments(packed, (*arrays, coef), dtype)
    if prepared is None:
        return None
    kernels, double_double, arguments = prepared
    if not double_double:
        sums = kernels.term_sums_float64(*arguments).astype(dtype, copy=False)
        return sums[:, 0], sums[:, 1], np.zeros(0, dtype=np.int64)
    no_masks = np.zeros((0, coef.shape[-1]), dtype=np.bool_), np.zeros(0, dtype=np.int64)
    return _double_double_sums(kernels, packed, arrays, arguments, *no_masks)[:3]


def _double_double_sums(
    kernels: ModuleType, packed: Any, arrays: tuple, arguments: tuple, masks: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The double-double term sums, the rows left to numpy and the masked sums (see
    :func:`masked_term_sums`), from :func:`_arguments`' kernel arguments."""
    parts, largest, masked = kernels.term_sums_double_double(
        *arguments, np.ascontiguousarray(masks, dtype=np.bool_), np.ascontiguousarray(columns, dtype=np.int64)
    )
    sums, masked = _joined(parts), _joined(masked)
    return sums[:, 0], sums[:, 1], _left_to_numpy(kernels, packed, arrays, largest), masked[:, 0], masked[:, 1]


def masked_term_sums(
    packed: Any, arrays: tuple[np.ndarray, ...], coef: DoubleDouble, masks: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """:func:`term_sums` of one row in double-double, and in the same pass the sums over subsets of
    its terms that :func:`masked_sums` makes from :func:`eliminate`'s ``Z``, bit for bit: for each mask
    of ``masks (K, T)`` (bool) and each ``Z`` column of ``columns``, the signed and absolute sums,
    ``(K, len(columns))`` each, in ``np.longdouble``. So one elimination answers the evidence and the
    triage's re-checks without ``Z`` reaching memory. Returns ``(total, absolute, left, masked total,
    masked absolute)``; None where the double-double kernel does not run."""
    prepared = _arguments(packed, (*arrays, coef), np.longdouble)
    if prepared is None or not prepared[1]:
        return None
    kernels, _, arguments = prepared
    return _double_double_sums(kernels, packed, arrays, arguments, masks, columns)


def double_double(dtype: type) -> bool:
    """Whether the kernels run ``dtype`` in double-double: ``np.longdouble`` where it is wider than
    float64 and the kernels are in use."""
    return dtype is np.longdouble and np.finfo(np.longdouble).eps < np.finfo(np.float64).eps and _kernels() is not None


def builds_terms(dtype: type) -> bool:
    """Whether :func:`build_terms` runs for ``dtype``: where the kernels do (float64 and
    ``np.longdouble``)."""
    return dtype in (np.float64, np.longdouble) and _kernels() is not None


def build_terms(
    tables: tuple[np.ndarray, ...], findings: np.ndarray, side: np.ndarray, n_terms: int, dtype: type
) -> tuple[np.ndarray | DoubleDouble, ...] | None:
    """Rows' terms, ``coef (R, T)`` and ``absent``, ``present``, ``active`` ``(R, T, C)``, for rows of
    any term structures with ``n_terms`` terms each, in one call; or None where the kernel does not
    run (see :func:`builds_terms`). ``tables``: ``_engine._Compiled.term_tables``.

    In float64 they are ``_engine._group_terms``'s numbers, bit for bit. For extended precision they
    are :class:`DoubleDouble` (products of float64 numbers in double-double: closer to the exact terms
    than ``np.longdouble``'s), which the double-double kernels take as they are."""
    if not builds_terms(dtype):
        return None
    kernels = _kernels()
    if double_double(dtype):
        return tuple(DoubleDouble(a) for a in kernels.build_terms_double_double(*tables, findings, side, n_terms))
    return tuple(a.astype(dtype, copy=False) for a in kernels.build_terms_float64(*tables, findings, side, n_terms))


def _left_to_numpy(kernels: ModuleType, packed: Any, arrays: tuple[np.ndarray, ...], largest: np.ndarray) -> np.ndarray:
    """The rows whose largest ``Z`` (no clamp) is below ``TINY`` in double-double, except those whose
    every ``Z`` is zero by structure: in a slice of one row's terms, say, each of which needs a cause
    that the context rules out (seen on 45 of 177 kernel calls at 12 positives). Zero is exact in
    double-double as in long double, but zero by underflow is not; the two are told apart by running
    the float64 kernel on the inputs' supports (1 where a value is positive): every value of the
    elimination is a sum of products of non-negative numbers, so a ``Z`` is zero exactly where its
    support's is, and sums and products of zeros and ones do not underflow."""
    tiny = np.flatnonzero(~(largest >= TINY))
    zero = tiny[largest[tiny] == 0]
    if not len(zero):
        return tiny
    priors, alpha, beta, absent, present, active = arrays
    supports = [_positive(t if t.shape[1] == 1 else t[:, zero]) for t in (priors, alpha, beta)] + [
        _positive(t[zero]) for t in (absent, present, active)
    ]
    plan = _plan_arguments(packed)
    ones = np.ones(present[zero].shape[:2])
    support_sums = kernels.term_sums_float64(
        *plan, *(np.ascontiguousarray(t, dtype=np.float64) for t in supports), ones
    )
    structural = zero[support_sums[:, 1, 0] == 0]
    return np.setdiff1d(tiny, structural, assume_unique=True)


def _positive(x: np.ndarray | DoubleDouble) -> np.ndarray:
    """Where ``x`` is positive (a double-double's sign is its high part's)."""
    return (x.parts[0] if isinstance(x, DoubleDouble) else x) > 0
