"""The compiled kernels (``numba`` extra, ``_kernel`` / ``_numba_kernels``): float64 bit for bit the
numpy elimination; double-double against an exact rational oracle (the numpy elimination run on
``fractions.Fraction``); the engine's answers the same either way to within their error bounds; a row's
numbers independent of its batch; the fallback rows and the choice of implementation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbdx
from numbdx import _engine, _kernel

from .conftest import quickscore_only
from .strategies import evidence, possible_codes

pytest.importorskip("numba", reason="the numba extra is not installed (pip install 'numbdx[numba]')")

MODEL = numbdx.load_model()
EXTENDED = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps


def _codes(evidence_rows: list[dict]) -> _engine.Codes | None:
    return possible_codes(MODEL, evidence_rows)


def _elimination(codes: _engine.Codes, dtype: type) -> tuple:
    """What ``_sums`` hands the elimination for the first row's plan group and term structure (shared
    plans, as in frames): ``(plan, tables, absent, present, active, coef)``."""
    codes = _engine.Codes(codes.upper, codes.findings, codes.side, True)
    compiled = _engine._compile(MODEL)
    groups, _, term_key = _engine._plan_groups(compiled, codes)
    sub = codes.take(np.flatnonzero((groups == groups[0]) & (term_key == term_key[0])))
    coef, absent, present, active = _engine._group_terms(MODEL, compiled, sub.findings, int(sub.side[0]), dtype)
    plan, priors, causes = _engine._factors(MODEL, compiled, sub.upper, dtype, shared=True)
    return plan, _engine._stack_tables(priors, causes), absent, present, active, coef


evidence_rows = st.lists(evidence(MODEL, max_findings=5, chief=None), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(evidence_rows)
def test_float64_kernel_is_the_numpy_elimination_bit_for_bit(rows):
    codes = _codes(rows)
    if codes is None:
        return
    plan, tables, absent, present, active, _ = _elimination(codes, np.float64)
    expected = _engine._numpy_columns(plan.packed, *tables, absent, present, active, np.float64)
    with _kernel.use("numba"):
        got, left = _kernel.eliminate(plan.packed, (*tables, absent, present, active), np.float64)
    assert len(left) == 0
    np.testing.assert_array_equal(got, expected)


def _exact(x: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda v: Fraction(*v.as_integer_ratio()), otypes=[object])(x)


@pytest.mark.skipif(not EXTENDED, reason="np.longdouble is float64 on this platform")
@settings(max_examples=8, deadline=None)
@given(st.lists(evidence(MODEL, max_findings=3, max_risk_factors=2, chief=None), min_size=1, max_size=2))
def test_double_double_kernel_is_within_two_long_double_ulps_of_the_exact_elimination(rows):
    """Double-double carries about 104 bits, so after its one rounding to ``np.longdouble`` each
    output is within an ulp or two of the exact value; numpy's own long double elimination rounds at
    every operation (the engine's bound allows for that)."""
    codes = _codes(rows)
    if codes is None:
        return
    plan, tables, absent, present, active, _ = _elimination(codes, np.longdouble)
    exact = _engine._eliminate_columns(plan.packed, *(_exact(t) for t in (*tables, absent, present, active)), object)
    with _kernel.use("numba"):
        got, left = _kernel.eliminate(plan.packed, (*tables, absent, present, active), np.longdouble)
    assert len(left) == 0
    eps = Fraction(*np.finfo(np.longdouble).eps.as_integer_ratio())
    for value, truth in zip(got.reshape(-1), exact.reshape(-1)):
        assert abs(Fraction(*value.as_integer_ratio()) - truth) <= 2 * eps * abs(truth), (value, float(truth))


def _exact_sums(coef: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum_t coef * z`` and ``sum_t |coef| * z`` in exact rationals (``z`` may be exact already)."""
    coef, z = _exact(coef), z if z.dtype == object else _exact(z)
    return (coef[:, :, None] * z).sum(axis=1), (abs(coef)[:, :, None] * z).sum(axis=1)


@settings(max_examples=20, deadline=None)
@given(evidence_rows)
def test_float64_term_sums_are_the_exact_sums_of_the_kernels_terms_rounded_once(rows):
    """The kernel sums ``coef * Z`` over each row's terms as it makes ``Z`` (the numpy path's ``Z``, bit
    for bit): each product exactly, the sum in double-double, one rounding at the end. So each sum is
    within an ulp of the exact sum of the float64 ``coef * Z``, however much the signs cancel, against
    ``T`` ulps of the largest term for a plain float64 sum."""
    codes = _codes(rows)
    if codes is None:
        return
    plan, tables, absent, present, active, coef = _elimination(codes, np.float64)
    z = _engine._numpy_columns(plan.packed, *tables, absent, present, active, np.float64)
    with _kernel.use("numba"):
        signed, size, left = _kernel.term_sums(plan.packed, (*tables, absent, present, active), coef, np.float64)
    assert len(left) == 0
    eps = Fraction(*np.finfo(np.float64).eps.as_integer_ratio())
    for got, exact in zip((signed, size), _exact_sums(coef, z)):
        for value, truth in zip(got.reshape(-1), exact.reshape(-1)):
            assert abs(Fraction(*value.as_integer_ratio()) - truth) <= eps * abs(truth), (value, float(truth))


@pytest.mark.skipif(not EXTENDED, reason="np.longdouble is float64 on this platform")
@settings(max_examples=8, deadline=None)
@given(st.lists(evidence(MODEL, max_findings=4, max_risk_factors=2, chief=None), min_size=1, max_size=2))
def test_double_double_term_sums_are_within_long_double_rounding_of_the_exact_sums(rows):
    """The sums over terms of the exact elimination (rationals), against the kernel's double-double
    sums rounded once to ``np.longdouble``: within an ulp of each sum, plus what the terms' own
    double-double rounding (about 2**-100 of each) can add up to where the signs cancel."""
    codes = _codes(rows)
    if codes is None:
        return
    plan, tables, absent, present, active, coef = _elimination(codes, np.longdouble)
    exact_z = _engine._eliminate_columns(plan.packed, *(_exact(t) for t in (*tables, absent, present, active)), object)
    with _kernel.use("numba"):
        signed, size, left = _kernel.term_sums(plan.packed, (*tables, absent, present, active), coef, np.longdouble)
    assert len(left) == 0
    eps = Fraction(*np.finfo(np.longdouble).eps.as_integer_ratio())
    exact_signed, exact_size = _exact_sums(coef, exact_z)
    for got, exact in ((signed, exact_signed), (size, exact_size)):
        slack = eps * exact_size / 2**20  # terms' rounding, relative to the sum of their sizes
        for value, truth, allowed in zip(got.reshape(-1), exact.reshape(-1), slack.reshape(-1)):
            error = abs(Fraction(*value.as_integer_ratio()) - truth)
            assert error <= eps * abs(truth) + allowed, (value, float(truth))


def _built_by_term_count(codes: _engine.Codes, dtype: type) -> Iterator[tuple[tuple, np.ndarray, np.ndarray]]:
    """For each number of terms among ``codes``' rows, the rows one ``build_terms`` call takes: what
    it builds for them, the rows and their term keys."""
    compiled = _engine._compile(MODEL)
    term_key, n_terms, _ = _engine._term_keys(compiled, codes)
    for n in np.unique(n_terms):
        members = np.flatnonzero(n_terms == n)
        findings, side = codes.findings[members], codes.side[members]
        with _kernel.use("numba"):
            built = _kernel.build_terms(compiled.term_tables, findings, side, int(n), dtype)
        yield built, members, term_key[members]


@settings(max_examples=30, deadline=None)
@given(st.lists(evidence(MODEL, max_findings=6, chief=None), min_size=1, max_size=10))
def test_built_terms_are_the_numpy_terms_bit_for_bit_whatever_their_structures(rows):
    """The compiled builder takes rows of several term structures (one term count) at once; each
    row's terms are those numpy builds for its structure alone, in the same order, bit for bit."""
    codes = _codes(rows)
    if codes is None:
        return
    compiled = _engine._compile(MODEL)
    for built, members, keys in _built_by_term_count(codes, np.float64):
        for key in np.unique(keys):
            ours = members[keys == key]
            expected = _engine._group_terms(MODEL, compiled, codes.findings[ours], int(codes.side[ours[0]]), np.float64)
            for got, want in zip(built, expected):
                np.testing.assert_array_equal(got[keys == key], want)


def _exact_terms(findings: np.ndarray, side: int) -> tuple[np.ndarray, ...]:
    """The numpy builder's terms in exact rationals: its banks, activations and side probabilities as
    fractions (one term structure)."""
    compiled = _engine._compile(MODEL)
    banks = {
        w: _engine._Choices(*(_exact(getattr(b, name)) for name in ("coef", "absent", "present", "not_activated")))
        for w, b in compiled.banks.items()
    }
    exact = _engine._Compiled(**{**compiled.__dict__, "banks": banks})
    rows = len(findings)
    tables = _engine.RowTables(
        upper=[],
        p_present=[],
        activation=np.broadcast_to(_exact(MODEL.activation), (rows, len(MODEL.causes))),
        side_subset=np.broadcast_to(_exact(MODEL.findings[MODEL.side_index].subset_mult), (rows, 4, len(MODEL.causes))),
        link=None,
        leak=None,
    )
    gated = np.broadcast_to(compiled.gated, findings.shape)
    blocks = [_engine._block(exact, findings, mask, len(MODEL.causes), object) for mask in (gated, ~gated)]
    return _engine._combine(MODEL, exact, side, *blocks, object, tables)


@pytest.mark.skipif(not EXTENDED, reason="np.longdouble is float64 on this platform")
@settings(max_examples=10, deadline=None)
@given(st.lists(evidence(MODEL, max_findings=4, chief=None), min_size=1, max_size=4))
def test_double_double_terms_are_within_their_rounding_of_the_exact_terms(rows):
    """The builder's double-double terms against the same terms in exact rationals: each within
    ``DOUBLE_DOUBLE_EPS`` per factor of its value (numpy's ``np.longdouble`` terms are within 2**-64
    per factor); high parts are their values rounded to float64."""
    codes = _codes(rows)
    if codes is None:
        return
    for built, members, keys in _built_by_term_count(codes, np.longdouble):
        assert all(isinstance(b, _kernel.DoubleDouble) for b in built)
        for key in np.unique(keys):
            ours = members[keys == key]
            factors = 4 + int((codes.findings[ours[0]] >= 0).sum())
            allowed = Fraction(factors) * Fraction(_kernel.DOUBLE_DOUBLE_EPS)
            for got, truth in zip(built, _exact_terms(codes.findings[ours], int(codes.side[ours[0]]))):
                hi, lo = got.parts[0][keys == key].reshape(-1), got.parts[1][keys == key].reshape(-1)
                for h, low, t in zip(hi, lo, truth.reshape(-1)):
                    assert h == float(t) or abs(Fraction(h) - t) <= abs(t) * 2**-52, (h, float(t))
                    assert abs(Fraction(h) + Fraction(low) - t) <= allowed * abs(t), (h, low, float(t))


@pytest.mark.skipif(not EXTENDED, reason="np.longdouble is float64 on this platform")
@settings(max_examples=10, deadline=None)
@given(st.integers(1, 40), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_masked_sums_are_the_exact_masked_sums_rounded_once(n_terms, n_masks, seed):
    """Each mask's sums of ``coef * z`` and ``|coef| * z`` in double-double, against exact rational
    sums of the same double-doubles: within an ulp of ``np.longdouble`` plus double-double rounding
    of the sizes, however the signs cancel."""
    rng = np.random.default_rng(seed)
    hi = rng.uniform(0, 1, (n_terms, 3))
    z = np.stack([hi, hi * rng.uniform(-1, 1, hi.shape) * 2**-60])
    c = rng.choice([-1.0, 1.0], n_terms) * rng.uniform(0.5, 1, n_terms)
    coef = np.stack([c, c * rng.uniform(-1, 1, n_terms) * 2**-60])
    masks = rng.random((n_masks, n_terms)) < 0.6
    with _kernel.use("numba"):
        signed, size = _kernel.masked_sums(_kernel.DoubleDouble(z), _kernel.DoubleDouble(coef), masks)
    exact_z = _exact(z[0]) + _exact(z[1])
    exact_c = _exact(coef[0]) + _exact(coef[1])
    eps = Fraction(*np.finfo(np.longdouble).eps.as_integer_ratio())
    for k, mask in enumerate(masks):
        truth_signed = (exact_c[mask, None] * exact_z[mask]).sum(axis=0) if mask.any() else np.zeros(3, object)
        truth_size = (abs(exact_c[mask, None]) * exact_z[mask]).sum(axis=0) if mask.any() else np.zeros(3, object)
        for got, truth in ((signed[k], truth_signed), (size[k], truth_size)):
            for value, t, allowed in zip(got, truth, truth_size):
                error = abs(Fraction(*value.as_integer_ratio()) - t)
                assert error <= eps * abs(t) + Fraction(allowed) * Fraction(n_terms, 2**100), (value, float(t))


def test_building_rows_whose_terms_differ_in_number_is_refused():
    codes = _codes([{"numb_toes": True}, {"numb_toes": True, "tingling": True}])
    compiled = _engine._compile(MODEL)
    n_terms = int(_engine.row_terms(compiled, codes.findings[0], int(codes.side[0])))
    with _kernel.use("numba"), pytest.raises(ValueError, match="differ in number"):
        _kernel.build_terms(compiled.term_tables, codes.findings, codes.side, n_terms, np.float64)


@pytest.mark.skipif(not EXTENDED, reason="np.longdouble is float64 on this platform")
def test_double_double_terms_left_to_numpy_are_rounded_to_long_double_for_it(monkeypatch):
    """Rows the kernel leaves to numpy (``TINY``), and one patient's small elimination (``clamped``,
    numpy's), take built double-double terms as ``np.longdouble``: the same numbers as numpy on the
    rounded terms."""
    rows = [
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "smoking": True},
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "burning": False, "diabetes": True},
    ]
    plan, tables, *_ = _elimination(_codes(rows), np.longdouble)
    codes = _codes(rows)
    compiled = _engine._compile(MODEL)
    n_terms = int(_engine.row_terms(compiled, codes.findings[0], int(codes.side[0])))
    with _kernel.use("numba"):
        coef, absent, present, active = _kernel.build_terms(
            compiled.term_tables, codes.findings, codes.side, n_terms, np.longdouble
        )
        rounded = [_kernel.as_array(a) for a in (coef, absent, present, active)]
        assert all(a.dtype == np.longdouble for a in rounded)
        z = _engine._numpy_columns(plan.packed, *tables, *rounded[1:], np.longdouble)
        numpy = _engine._term_sums(rounded[0], z)
        monkeypatch.setattr(_kernel, "TINY", np.inf)  # every row left to numpy
        total, absolute = _engine._eliminate_batch(plan, tables, absent, present, active, np.longdouble, coef=coef)
        np.testing.assert_array_equal(total, numpy[0])
        np.testing.assert_array_equal(absolute, numpy[1])
        monkeypatch.setattr(_engine, "CLAMPED_MAX_ENTRIES", 10**9)  # one patient: the clamped elimination
        upper = codes.upper[:1]
        one = [a[:1] for a in (absent, present, active)]
        MODEL.__dict__.pop("_factor_cache", None)
        got = _engine._eliminate(MODEL, compiled, upper, *one, np.longdouble, coef=coef[:1])
        MODEL.__dict__.pop("_factor_cache", None)
        one = [a[:1] for a in rounded[1:]]
        want = _engine._eliminate(MODEL, compiled, upper, *one, np.longdouble, coef=rounded[0][:1])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_the_bound_counts_extended_precision_in_double_doubles_where_that_is_coarser(monkeypatch):
    """Where ``np.longdouble`` is IEEE quad (aarch64 Linux), its ``eps`` (2**-112) is finer than the
    kernels' double-double: the bound must count in the coarser. Simulated here by a double-double
    unit coarser than this platform's ``np.longdouble``."""
    assert _engine._rounding_eps(np.float64) == np.finfo(np.float64).eps
    assert _engine._rounding_eps(np.longdouble) >= np.finfo(np.longdouble).eps
    coarser = 4 * float(np.finfo(np.longdouble).eps)
    monkeypatch.setattr(_kernel, "DOUBLE_DOUBLE_EPS", coarser)
    assert _engine._rounding_eps(np.longdouble) == coarser


factors = st.floats(min_value=-1e150, max_value=1e150, allow_nan=False, allow_infinity=False)


@pytest.mark.skipif(not _kernel.X87, reason="np.longdouble is not x87's 80-bit format on this platform")
@given(st.lists(st.tuples(factors, factors), min_size=1, max_size=40))
def test_the_bit_level_split_of_long_doubles_is_exact(pairs):
    """``_kernel._split`` reads an x87 long double's bits to make ``hi + lo`` in one pass: the sum must
    be the long double exactly (products of two doubles use the whole 64-bit significand), ``lo``
    within half an ulp of ``hi``, as numpy's split in long double arithmetic gives."""
    x = np.array([np.longdouble(a) * np.longdouble(b) for a, b in pairs])
    x = np.concatenate([x, [0.0, -0.0, np.longdouble(2) ** -16000, np.longdouble(1) / 3]]).astype(np.longdouble)
    with _kernel.use("numba"):
        bits = _kernel._split(x, _kernel._kernels())
    numpy = _kernel._split(x)
    normal = np.abs(x) >= 2.0**-960  # below, both lose bits as float64 does (and rows go to numpy)
    for parts in (bits, numpy):
        np.testing.assert_array_equal((parts[0].astype(np.longdouble) + parts[1])[normal], x[normal])
        assert (np.abs(parts[1]) <= np.spacing(np.abs(parts[0])) / 2).all()
    assert (np.abs(bits[0] - numpy[0]) <= np.spacing(np.abs(numpy[0]))).all()  # ties may round apart
    tiny = bits[0].astype(np.longdouble) + bits[1] - x
    assert (np.abs(tiny[~normal]) <= 2.0**-1074).all()  # as a cast to float64: within a subnormal step


@pytest.mark.skipif(not _kernel.X87, reason="np.longdouble is not x87's 80-bit format on this platform")
def test_the_bit_level_split_keeps_infinities_and_nan():
    with _kernel.use("numba"):
        parts = _kernel._split(np.array([np.inf, -np.inf, np.nan], dtype=np.longdouble), _kernel._kernels())
    assert parts[0, 0] == np.inf and parts[0, 1] == -np.inf and np.isnan(parts[0, 2])
    assert (parts[1] == 0).all()


@pytest.mark.skipif(not EXTENDED, reason="np.longdouble is float64 on this platform")
def test_rows_whose_terms_are_all_tiny_are_left_to_numpy(monkeypatch):
    """Double-double has float64's exponent range: rows whose ``Z`` is below ``TINY`` in every term
    are recomputed with numpy, the others keep the kernel's numbers, for ``Z`` and for the sums over
    terms."""
    rows = [
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "smoking": True},
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "burning": False, "diabetes": True},
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "swelling": False, "coldness": False},
    ]  # one plan and one term structure (the same positives), three different Z
    plan, tables, absent, present, active, coef = _elimination(_codes(rows), np.longdouble)
    assert len(present) == 3
    with _kernel.use("numba"):
        kernel, _ = _kernel.eliminate(plan.packed, (*tables, absent, present, active), np.longdouble)
        numpy = _engine._numpy_columns(plan.packed, *tables, absent, present, active, np.longdouble)
        sums = _kernel.term_sums(plan.packed, (*tables, absent, present, active), coef, np.longdouble)
        assert len(sums[2]) == 0
        numpy_sums = _engine._term_sums(coef, numpy)
        z0 = np.abs(kernel[:, :, 0].astype(np.float64))
        largest = z0.max(axis=1)
        assert all((kernel[r] != numpy[r]).any() for r in range(3))  # each row tells which path ran
        # thresholds at and just above each row's smallest and largest term: some rows have terms on
        # both sides, and only rows with every term below leave the kernel
        for threshold in sorted({*z0.min(axis=1), *largest, *(largest * 1.000001), np.inf}):
            monkeypatch.setattr(_kernel, "TINY", threshold)
            z = _engine._eliminate_batch(plan, tables, absent, present, active, np.longdouble)
            tiny = largest < threshold
            np.testing.assert_array_equal(z[tiny], numpy[tiny])
            np.testing.assert_array_equal(z[~tiny], kernel[~tiny])
            got = _engine._eliminate_batch(plan, tables, absent, present, active, np.longdouble, coef=coef)
            for g, k, n in zip(got, sums, numpy_sums):
                np.testing.assert_array_equal(g[tiny], n[tiny])
                np.testing.assert_array_equal(g[~tiny], k[~tiny])


@pytest.mark.skipif(not EXTENDED, reason="numpy has no extended precision here: no double-double kernel")
def test_rows_zero_by_structure_stay_on_the_kernel_and_underflow_does_not():
    """A row whose every ``Z`` is zero because a factor is (a cause both absent and present with
    multiplier 0) keeps the kernel's exact zeros; a row whose ``Z`` underflows to zero in
    double-double (multipliers of 2**-600 for two causes: 2**-1200 is below float64's range, not
    long double's) is recomputed with numpy, which keeps it positive."""
    rows = [
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "smoking": True},
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "burning": False, "diabetes": True},
        {"age": 40, "sex": "male", "numb_toes": True, "tingling": True, "swelling": False, "coldness": False},
    ]
    plan, tables, absent, present, active, coef = _elimination(_codes(rows), np.longdouble)
    absent, present, active = absent.copy(), present.copy(), active.copy()
    absent[1, :, 0] = present[1, :, 0] = active[1, :, 0] = 0  # row 1: cause 0 can be neither
    tiny = np.longdouble(2.0) ** -600
    for c in (0, 1):  # row 2: two causes' multipliers scaled far down
        absent[2, :, c] *= tiny
        present[2, :, c] *= tiny
        active[2, :, c] *= tiny
    numpy = _engine._numpy_columns(plan.packed, *tables, absent, present, active, np.longdouble)
    assert (numpy[1] == 0).all() and (numpy[2, :, 0] > 0).all()
    with _kernel.use("numba"):
        z, left = _kernel.eliminate(plan.packed, (*tables, absent, present, active), np.longdouble)
        assert left.tolist() == [2] and (z[1] == 0).all() and (z[2, :, 0] == 0).all()
        *_, left_sums = _kernel.term_sums(plan.packed, (*tables, absent, present, active), coef, np.longdouble)
        assert left_sums.tolist() == [2]
        # through the engine: row 2 is numpy's, rows 0 and 1 the kernel's
        total, absolute = _engine._eliminate_batch(plan, tables, absent, present, active, np.longdouble, coef=coef)
    assert (total[1] == 0).all() and (absolute[1] == 0).all()
    numpy_sums = _engine._term_sums(coef, numpy)
    np.testing.assert_array_equal(total[2], numpy_sums[0][2])
    np.testing.assert_array_equal(absolute[2], numpy_sums[1][2])
    assert absolute[2, 0] > 0


def _answers(codes: _engine.Codes, choice: str) -> _engine.Answer:
    MODEL.__dict__.pop("_factor_cache", None)
    with _kernel.use(choice):
        return _engine.infer_codes(MODEL, codes, shared_plans=True, method="exact")


@settings(max_examples=15, deadline=None)
@given(st.lists(evidence(MODEL, max_findings=6, chief=None), min_size=1, max_size=8))
def test_engine_answers_agree_within_their_error_bounds(rows):
    codes = _codes(rows)
    if codes is None:
        return
    numpy, compiled = _answers(codes, "numpy"), _answers(codes, "numba")
    assert [type(e) for e in numpy.failure] == [type(e) for e in compiled.failure]
    np.testing.assert_array_equal(numpy.terms, compiled.terms)
    answered = np.array([e is None for e in numpy.failure])
    allowed = (numpy.error_bound + compiled.error_bound)[answered, None] + 1e-15
    for name in ("posterior", "explains"):
        difference = np.abs(getattr(numpy, name) - getattr(compiled, name))[answered]
        assert (difference <= allowed).all(), name
    np.testing.assert_array_equal(numpy.prior, compiled.prior)  # one float64 term per row: bit for bit


@settings(max_examples=10, deadline=None)
@given(st.lists(evidence(MODEL, max_findings=5, chief=None), min_size=2, max_size=8))
def test_a_rows_numbers_do_not_depend_on_its_batch(rows):
    codes = _codes(rows)
    if codes is None:
        return
    batch = _answers(codes, "numba")
    for r in range(len(codes)):
        alone = _answers(codes.take(np.array([r])), "numba")
        for name in ("posterior", "explains", "prior", "evidence_probability"):
            np.testing.assert_array_equal(getattr(alone, name)[0], getattr(batch, name)[r], err_msg=name)


def test_the_choice_of_implementation(monkeypatch):
    monkeypatch.setenv(_kernel.ENVIRONMENT, "numpy")
    assert _kernel.active() == "numpy"
    with _kernel.use("numba"):
        assert _kernel.active() == "numba"
    assert _kernel.active() == "numpy"
    monkeypatch.setenv(_kernel.ENVIRONMENT, "fortran")
    with pytest.raises(ValueError, match="NUMBDX_KERNEL must be one of"):
        _kernel.active()
    with pytest.raises(ValueError, match="kernel must be one of"), _kernel.use("cuda"):
        pass


def test_asking_for_numba_without_it_names_the_extra(monkeypatch):
    monkeypatch.setattr(_kernel, "_module", None)
    monkeypatch.setattr(_kernel, "_missing", None)
    monkeypatch.delattr(numbdx, "_numba_kernels", raising=False)
    monkeypatch.setitem(sys.modules, "numbdx._numba_kernels", None)  # import fails as if absent
    with pytest.raises(ImportError, match=r"numbdx\[numba\]"), _kernel.use("numba"):
        pass
    with _kernel.use("auto"):  # auto falls back to numpy
        assert _kernel.active() == "numpy"


def test_numba_is_not_imported_by_one_patients_usual_query():
    """numba costs about 0.3 s to import: ``import numbdx`` and a small ``infer`` must not pay it."""
    code = "import sys, numbdx; numbdx.infer({'numb_toes': True}); print('numba' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_engine_runs_the_kernel_for_frames_and_for_rows_with_many_terms(monkeypatch):
    """Frames and one patient with ``KERNEL_MIN_TERMS`` terms or more go to the kernel, decided on the
    row's terms even where the engine eliminates them a slice at a time (float64); a row from exact
    inputs (double-double) goes whole; a small query does not (its numbers are numpy's, though the
    loaded kernel may compute them: see the next test)."""
    shapes = []
    for name in ("eliminate", "term_sums"):
        real = getattr(_kernel, name)

        def spy(packed, arrays, *rest, real=real, name=name):
            if name == "term_sums" or _kernel.loaded() is not True:
                # present: (rows, terms, causes), and whether in double-double
                shapes.append((*arrays[4].shape, isinstance(arrays[4], _kernel.DoubleDouble)))
            return real(packed, arrays, *rest)

        monkeypatch.setattr(_kernel, name, spy)
    # a small query's elimination by numpy's arithmetic is recorded only where the kernels are not loaded
    monkeypatch.setattr(_kernel, "loaded", lambda: "no")
    small = {"age": 40, "sex": "male", "numb_toes": True, "tingling": True}
    positives = ["numb_toes", "tingling", "burning", "numb_foot_sole", "aching_pain", "heaviness", "swelling"]
    large = {"age": 58, "sex": "female", **dict.fromkeys(positives, True), "chronic_fatigue": True}
    codes = _codes([large])
    compiled = _engine._compile(MODEL)
    terms = _engine.row_terms(compiled, codes.findings[0], int(codes.side[0]))
    assert terms >= _engine.KERNEL_MIN_TERMS
    with _kernel.use("numba"):
        numbdx.infer(small)
        assert shapes == []
        numbdx.infer_frame(pd.DataFrame([small]))
        assert shapes
        shapes.clear()
        # slices of 100 terms, each below the threshold: the row's own terms decide
        monkeypatch.setattr(_engine, "TERM_CHUNK_ELEMENTS", 100 * compiled.widest)
        _engine.infer_codes(MODEL, codes, method="exact", with_prior=False)  # 8 signed: double-double first
        assert shapes and all(double and t == terms for _, t, _, double in shapes)
        shapes.clear()
        monkeypatch.setattr(_engine, "SIGNED_FOR_EXTENDED", 99)  # float64 first
        _engine.infer_codes(MODEL, codes, method="exact", with_prior=False)
        in_float64 = [t for _, t, _, double in shapes if not double]
        assert in_float64 and max(in_float64) <= 100


def _loaded_as(value: bool):
    """``_kernel.loaded`` answering ``value`` inside the block (a function, not a fixture: hypothesis
    runs the test body many times per fixture)."""
    from unittest import mock

    return mock.patch.object(_kernel, "loaded", lambda: value)


# about one drawn query in five reaches the switch (the others take the clamped forward passes, which
# the kernel does not replace): 50 examples miss it with probability about 2e-5
@settings(max_examples=50, deadline=None)
@given(evidence(MODEL, max_findings=4, max_risk_factors=3))
def test_a_small_querys_answer_does_not_depend_on_whether_the_kernels_are_loaded(ev):
    """Below ``KERNEL_MIN_TERMS`` terms a row is eliminated with numpy's arithmetic. Once an earlier
    call has loaded the kernels, the float64 kernel computes that ``Z`` (the same numbers bit for bit:
    the first test), so a query's answer, triage and advice included, is the same whatever the
    process did before; the loaded kernels only make it faster."""
    from numbdx._exceptions import ImpossibleEvidenceError

    with _kernel.use("numba"):
        try:
            with _loaded_as(False):
                before = numbdx.infer(ev)
        except ImpossibleEvidenceError:
            return
        with _loaded_as(True):
            after = numbdx.infer(ev)
    assert after == before  # every number, exactly (to_dict)


def test_a_loaded_kernel_computes_a_small_querys_numpy_elimination(monkeypatch):
    """The switch the previous test relies on is taken: with the kernels loaded, a small query's
    elimination (eight terms, the reverse pass) runs on the float64 kernel, and not without them."""
    calls = []
    real = _kernel.eliminate
    monkeypatch.setattr(_kernel, "eliminate", lambda *args, **kw: calls.append(args[2]) or real(*args, **kw))
    ev = {"pain_worse_joint_movement": True, "numbness_side": "both"}  # an article case: 8 terms, no context
    with _kernel.use("numba"):
        with _loaded_as(False):
            before = numbdx.infer(ev)
        assert calls == []
        after = numbdx.infer(ev)
    assert calls and set(calls) == {np.float64}
    assert after == before


def test_warming_loads_both_precisions_kernels(monkeypatch):
    """``warm_kernels`` (the service's start-up) runs the kernels in float64 and, where numpy has
    extended precision, in double-double, the triage's masked sums included; on numpy it runs
    nothing."""
    dtypes = []
    real = _kernel.term_sums

    def spy(*args, real=real):
        dtypes.append(args[-1])
        return real(*args)

    monkeypatch.setattr(_kernel, "term_sums", spy)
    masked = []
    real_masked = _kernel.masked_sums
    monkeypatch.setattr(_kernel, "masked_sums", lambda *args: masked.append(1) or real_masked(*args))
    with _kernel.use("numpy"):
        assert _engine.warm_kernels(MODEL) is False
    assert dtypes == [] and masked == []
    with _kernel.use("numba"):
        assert _engine.warm_kernels(MODEL) is True
    assert np.float64 in dtypes
    assert (np.longdouble in dtypes) == EXTENDED
    assert bool(masked) == EXTENDED  # the triage's re-check in double-double


def test_many_positives_are_exact_on_numpy_and_on_the_kernels_by_two_methods():
    """13 positives of two terms each and the side finding's two (16,384 terms): past
    ``AUTO_EXACT_POSITIVES`` and past ``CHOICES_FROM_TERMS`` and ``CHOICES_FROM_TERMS_KERNEL``, so
    eliminated over the findings' choices on numpy and on the kernels, one patient or a frame. A
    positive of one term (only_at_night: one cause) is not counted. Quickscore, made to take it on
    the kernels, answers exactly too: the two agree within their bounds, and the sampled answer lies
    within its own bound of them."""
    positives = [
        "numb_toes", "tingling", "burning", "numb_foot_sole", "aching_pain", "cramps_convulsions", "heaviness",
        "swelling", "chronic_fatigue", "difficulty_walking", "weakness", "only_at_night", "coldness", "back_pain",
    ]  # fmt: skip
    from numbdx._evidence import normalise

    ev = {"age": 58, "sex": "female", "diabetes": True, "overweight": True, **dict.fromkeys(positives, True)}
    compiled = _engine._compile(MODEL)
    codes = _engine.codes_from_evidence(MODEL, [normalise(MODEL, ev)])
    counted = _engine._expanding_positives(compiled, codes.findings)[0]
    assert counted == len(positives) - 1
    assert _engine.AUTO_EXACT_POSITIVES < counted <= _engine.AUTO_EXACT_POSITIVES_KERNEL
    assert _engine.row_terms(compiled, codes.findings[0], int(codes.side[0])) == 2**14
    frame = _engine.Codes(codes.upper, codes.findings, codes.side, True)
    with _kernel.use("numpy"):
        assert _engine._by_choices(compiled, codes)[0] and _engine._by_choices(compiled, frame)[0]
        by_choices = numbdx.infer(ev)
    with _kernel.use("numba"):
        assert _engine._by_choices(compiled, codes)[0] and _engine._by_choices(compiled, frame)[0]
        with quickscore_only():
            assert not _engine._by_choices(compiled, codes)[0]
            quickscore = numbdx.infer(ev)
        sampled = numbdx.infer(ev, method="sampling")
    assert by_choices.method == quickscore.method == "exact" and sampled.method == "importance_sampling"
    # two positives expanded in order (numb_foot_sole, only_at_night) carry their multiplier's rounding
    assert by_choices.error_bound <= 1e-15 + 2 * _engine.MERGED_ROUNDING
    assert quickscore.error_bound <= (1e-15 + 2 * _engine.MERGED_ROUNDING if EXTENDED else 1e-6)
    for cause in quickscore:
        for quantity in ("posterior", "explains"):
            value = getattr(cause, quantity)
            assert abs(value - getattr(by_choices[cause.name], quantity)) <= (
                quickscore.error_bound + by_choices.error_bound
            ), (cause.name, quantity)
            difference = abs(value - getattr(sampled[cause.name], quantity))
            assert difference <= sampled.error_bound + quickscore.error_bound, (cause.name, quantity)


@pytest.mark.skipif(not EXTENDED, reason="numpy has no extended precision here: no double-double kernel")
def test_one_patient_past_sixteen_positives_is_exact_where_the_terms_fit():
    """Twenty positives, six of them with at most one cause (one term each): 65,536 terms, within the
    budget. One patient from exact inputs is then answered exactly by Quickscore (no count of
    positives takes it elsewhere; by default, past ``CHOICES_FROM_TERMS_KERNEL``, the row goes to the
    elimination over its choices, whose answer it matches), and the answer is within the sampled
    one's error bound of it."""
    from numbdx._evidence import normalise

    positives = [
        "numb_toes", "numb_heel", "numb_foot_sole", "numb_calf", "numb_thigh", "numb_buttock",
        "numb_above_knee", "numb_knee_to_foot", "numb_one_side_of_body", "numb_hands", "tingling",
        "burning", "coldness", "wooliness", "itching", "crawling", "temperature_discrimination_loss",
        "complete_sensory_loss", "aching_pain", "severe_pain",
    ]  # fmt: skip
    ev = {"age": 50, **dict.fromkeys(positives, True)}
    compiled = _engine._compile(MODEL)
    codes = _engine.codes_from_evidence(MODEL, [normalise(MODEL, ev)])
    assert _engine.row_terms(compiled, codes.findings[0], int(codes.side[0])) == _engine.MAX_TERMS
    assert _engine._expanding_positives(compiled, codes.findings)[0] == 14
    with _kernel.use("numba"):
        by_choices = numbdx.infer(ev)
        with quickscore_only():
            exact = numbdx.infer(ev)
        sampled = numbdx.infer(ev, method="sampling")
    assert exact.method == by_choices.method == "exact" and exact.error_bound <= 1e-14
    for cause in exact:
        for quantity in ("posterior", "explains"):
            value = getattr(cause, quantity)
            difference = abs(value - getattr(sampled[cause.name], quantity))
            assert difference <= sampled.error_bound + exact.error_bound, (cause.name, quantity)
            other = getattr(by_choices[cause.name], quantity)
            assert abs(value - other) <= exact.error_bound + by_choices.error_bound, (cause.name, quantity)


# four causes whose findings include 14 common positives with two causes or more: brute force
# enumerates them
MANY_SIGNED = ("lumbosacral_osteochondrosis", "lumbar_disc_herniation", "raynauds_disease", "positional_compression")


@pytest.mark.skipif(not EXTENDED, reason="numpy has no extended precision here: no double-double kernel")
def test_exact_inputs_keep_many_cancelling_positives_within_a_tight_bound(monkeypatch):
    """14 positives expanded with signs (code SIGNED: 11 of them have two causes here, and would
    otherwise be expanded in order without cancellation; 32,768 terms, cancelling), against
    brute-force enumeration (positive probabilities only: no cancellation). From exact inputs in
    double-double the bound is below 1e-15 and holds; numpy's ``np.longdouble`` bound is about 1e-7
    for the same evidence. A row left to numpy (``TINY``) is bounded in ``np.longdouble``'s unit
    again."""
    from numbdx._evidence import normalise

    from ._oracle import brute_force

    sub = MODEL.submodel(list(MANY_SIGNED))
    compiled = _engine._compile(sub)
    cancelling = [
        i
        for i, f in enumerate(sub.findings)
        if f.kind == "binary" and len(f.parents) >= 2 and (compiled.signed[i] or compiled.p_on[i] > _engine.RARE_ON)
    ]
    assert len(cancelling) == 14 and sum(compiled.signed[cancelling]) == 3
    positives = [sub.findings[i].name for i in cancelling]
    evidence = normalise(sub, {"age": 45, "sex": "female", **dict.fromkeys(positives, True)})
    present, explains, _ = brute_force(sub, evidence)
    codes = _engine.codes_from_evidence(sub, [evidence])
    codes.findings[0, cancelling] = _engine.SIGNED

    def answer(choice: str) -> _engine.Answer:
        sub.__dict__.pop("_factor_cache", None)
        # Quickscore's exact inputs are what this tests: by default the row would be eliminated over
        # its choices instead (tests/test_choice_elimination.py)
        with _kernel.use(choice), quickscore_only():
            got = _engine.infer_codes(sub, codes, method="exact")
        assert got.failure[0] is None and got.terms[0] == 2**15  # the side finding's two
        for value, truth in ((got.posterior[0], present), (got.explains[0], explains)):
            assert np.abs(value - truth).max() <= got.error_bound[0] + 1e-13  # brute force's own rounding
        return got

    tables = []
    real = _engine._eliminate

    def spy(*args, **kwargs):
        if args[6] is np.longdouble:
            tables.extend(kwargs["factors"][1] if kwargs.get("factors") else [None])
        return real(*args, **kwargs)

    monkeypatch.setattr(_engine, "_eliminate", spy)
    compiled_answer = answer("numba")
    # the tight bound rests on every input within double-double rounding: the tables too
    assert tables and all(isinstance(t, _kernel.DoubleDouble) for t in tables)
    numpy_answer = answer("numpy")
    assert compiled_answer.error_bound[0] <= 1e-15 < 1e-9 <= numpy_answer.error_bound[0]
    monkeypatch.setattr(_kernel, "TINY", np.inf)
    left = answer("numba")
    assert left.error_bound[0] >= 1e-9


@pytest.mark.skipif(not EXTENDED, reason="numpy has no extended precision here: no double-double kernel")
def test_exact_tables_are_the_rational_tables_rounded_once():
    """:func:`_engine._exact_factors`: the upper layer's tables in rationals, each entry's high part
    its float64 rounding and high plus low within 2**-106 of it; the plan is ``np.longdouble``'s."""
    compiled = _engine._compile(MODEL)
    codes = _codes([{"age": 58, "sex": "female", "diabetes": True, "numb_toes": True}])
    MODEL.__dict__.pop("_factor_cache", None)
    plan, tables = _engine._exact_factors(MODEL, compiled, codes.upper[0])
    exact_plan, priors, causes = _engine._factors(MODEL, compiled, codes.upper, object, _engine._exact_tables(MODEL))
    ld_plan, *_ = _engine._factors(MODEL, compiled, codes.upper, np.longdouble)
    assert plan.packed.width == ld_plan.packed.width == exact_plan.packed.width
    for got, truth in zip(tables, _engine._stack_tables(priors, causes)):
        assert isinstance(got, _kernel.DoubleDouble) and got.shape == truth.shape
        for h, low, t in zip(got.parts[0].reshape(-1), got.parts[1].reshape(-1), truth.reshape(-1)):
            assert h == float(t)
            assert abs(Fraction(h) + Fraction(low) - t) <= abs(t) * Fraction(1, 2**106)
    assert _engine._exact_factors(MODEL, compiled, codes.upper[0])[1] is tables  # made once per context


# products and sums of probabilities, as the exact tables hold them: denominators of many bits
_RATIONALS = st.one_of(
    st.fractions(min_value=0, max_value=1),
    st.lists(st.floats(min_value=1e-12, max_value=1.0), min_size=1, max_size=6).map(
        lambda fs: sum((Fraction(f) * Fraction(g) for f, g in zip(fs, reversed(fs))), Fraction(0))
    ),
)


@given(_RATIONALS)
def test_a_rational_is_rounded_once_to_double_double(value):
    """``_double_double_parts`` (integer division, for speed) gives what Fraction arithmetic gives:
    the high part is the value's float64 rounding, the low part the rest's."""
    high, low = _engine._double_double_parts(value)
    assert high == float(value)
    assert low == float(value - Fraction(high))


# causes of the stroke signs: four rare findings with 3-4 causes each
STROKE_SIGNS = ("stroke", "brain_tumour", "traumatic_brain_injury", "encephalitis", "migraine")


@pytest.mark.skipif(not EXTENDED, reason="numpy has no extended precision here: no double-double kernel")
def test_rare_positives_are_signed_where_only_that_fits_the_term_budget(monkeypatch):
    """Four rare stroke signs, expanded without cancellation (a term per cause: 4, 4, 4 and 3), three
    more positives and cramps (two causes) make 6,144 terms: past a term budget of 1,024, the most
    probable rare positives are expanded with signs instead, no more than needed (three: 768 terms),
    and the answer
    from exact inputs agrees with brute-force enumeration within its bound. A rare positive with two
    causes (cramps here) is never re-coded: its expansion has no more terms than the signed one.
    Frames, and numpy, keep the cancellation-free expansion; past the term budget numpy's row is
    eliminated over its findings' choices, which agrees with brute force as well."""
    from numbdx._evidence import normalise

    from ._oracle import brute_force

    sub = MODEL.submodel(list(STROKE_SIGNS))
    compiled = _engine._compile(sub)
    binary = [i for i, f in enumerate(sub.findings) if f.kind == "binary"]
    rare = [i for i in binary if not compiled.signed[i] and len(sub.findings[i].parents) >= 3]
    signed = [i for i in binary if compiled.signed[i]][:3]
    assert len(rare) == 4
    two_causes = sub.finding_index["cramps_convulsions"]
    assert not compiled.signed[two_causes] and len(sub.findings[two_causes].parents) == 2
    ev = {"age": 60, "sex": "male", **{sub.findings[i].name: True for i in [*rare, *signed, two_causes]}}
    evidence = normalise(sub, ev)
    codes = _engine.codes_from_evidence(sub, [evidence])
    assert _engine.row_terms(compiled, codes.findings[0], int(codes.side[0])) == 2 * 3072
    monkeypatch.setattr(_engine, "MAX_TERMS", 1024)
    with _kernel.use("numba"):
        recoded = _engine._signed_rare(compiled, codes)
        expanded = np.flatnonzero(recoded.findings[0] == _engine.SIGNED)
        assert set(expanded) == set(sorted(rare, key=lambda f: -compiled.p_on[f])[:3])
        assert _engine.row_terms(compiled, recoded.findings[0], int(codes.side[0])) == 2 * 384
        frame = _engine.Codes(codes.upper, codes.findings, codes.side, True)
        assert _engine._signed_rare(compiled, frame) is frame
        sub.__dict__.pop("_factor_cache", None)
        answer = _engine.infer_codes(sub, codes, method="exact")
    # two positives expanded in order (cramps, the rare one left) carry their multiplier's rounding
    bound = 1e-15 + 2 * _engine.MERGED_ROUNDING
    assert answer.failure[0] is None and answer.terms[0] == 768 and answer.error_bound[0] <= bound
    present, explains, _ = brute_force(sub, evidence)
    for value, truth in ((answer.posterior[0], present), (answer.explains[0], explains)):
        assert np.abs(value - truth).max() <= answer.error_bound[0] + 1e-13  # brute force's own rounding
    with _kernel.use("numpy"):
        assert _engine._signed_rare(compiled, codes) is codes
        # past CHOICES_FROM_TERMS: eliminated over the findings' choices instead, exactly too
        assert _engine._by_choices(compiled, codes)[0]
        by_choices = _engine.infer_codes(sub, codes, method="exact")
    assert by_choices.failure[0] is None and by_choices.error_bound[0] <= 1e-15
    for value, truth in ((by_choices.posterior[0], present), (by_choices.explains[0], explains)):
        assert np.abs(value - truth).max() <= by_choices.error_bound[0] + 1e-13


@pytest.mark.skipif(not EXTENDED, reason="numpy has no extended precision here: no double-double kernel")
def test_a_recoded_row_that_falls_back_to_sampling_samples_the_evidence_as_given(monkeypatch):
    """Sampling is seeded by a hash of the row's codes: a row whose rare positives were re-coded for
    the exact attempt (one patient) must be sampled from its codes as given, as the same row in a
    frame (never re-coded) is, so that both get the same numbers. Here the exact attempt fails
    because extended precision is made to count as no precision at all."""
    sub = MODEL.submodel(list(STROKE_SIGNS))
    compiled = _engine._compile(sub)
    binary = [i for i, f in enumerate(sub.findings) if f.kind == "binary"]
    rare = [i for i in binary if not compiled.signed[i] and len(sub.findings[i].parents) >= 2]
    signed = [i for i in binary if compiled.signed[i]][:3]
    ev = {"age": 60, "sex": "male", **{sub.findings[i].name: True for i in rare + signed}}
    monkeypatch.setattr(_engine, "MAX_TERMS", 1024)
    monkeypatch.setattr(_kernel, "DOUBLE_DOUBLE_EPS", 1.0)
    with _kernel.use("numba"):
        one = numbdx.infer(ev, model=sub)
        frame = numbdx.infer_frame(pd.DataFrame([ev]), model=sub)
    assert one.method == "importance_sampling"
    for cause in one:
        assert frame.loc[0, cause.name] == cause.explains, cause.name
