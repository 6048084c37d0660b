"""Exact inference over the findings' choices (``numbdx._choice_elimination``), against brute-force
enumeration, against Quickscore (``numbdx._engine``'s other exact path) and through ``infer``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbdx
from numbdx import _choice_elimination, _engine, _triage
from numbdx._evidence import normalise
from numbdx._exceptions import ImpossibleEvidenceError, InferenceLimitError

from ._oracle import brute_force
from .conftest import TWENTY, quickscore_only
from .strategies import SUBMODEL_CAUSES, evidence, many_positives, possible_codes, submodel_and_evidence


def _solve(model, evidence, left_out=None):
    """The choice elimination's answer for one row: (posteriors then explains, bound, failure, out)."""
    codes = _engine.codes_from_evidence(model, [normalise(model, evidence)])
    n = len(model.causes)
    out = {
        "posterior": np.full((1, 2 * n), np.nan),
        "evidence_probability": np.full(1, np.nan),
        "error_bound": np.full(1, np.nan),
        "terms": np.zeros(1, dtype=np.int64),
    }
    failure = [None]
    _choice_elimination.solve(model, codes, np.arange(1), out, failure, left_out)
    return out["posterior"][0], float(out["error_bound"][0]), failure[0], out


def _kernels() -> list:
    """The kernels to run a test on: numpy, and numba where the extra is installed."""
    return ["numpy", pytest.param("numba", marks=pytest.mark.skipif(not _has_numba(), reason="no numba extra"))]


def _has_numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@settings(max_examples=40, deadline=None)
@given(submodel_and_evidence(max_findings=8))
def test_agrees_with_brute_force_on_sub_models(case):
    """Every kind of evidence (side, gated findings, negatives, risk factors), against enumeration."""
    model, evidence = case
    try:
        normalised = normalise(model, evidence)
    except ImpossibleEvidenceError:
        return
    present, explains, p_e = brute_force(model, normalised)
    got, bound, failure, out = _solve(model, evidence)
    if p_e == 0:
        assert isinstance(failure, ImpossibleEvidenceError)
        return
    assert failure is None
    n = len(model.causes)
    np.testing.assert_allclose(got[:n], present, rtol=0, atol=1e-12 + bound)
    np.testing.assert_allclose(got[n:], explains, rtol=0, atol=1e-12 + bound)
    assert out["evidence_probability"][0] == pytest.approx(p_e, rel=1e-9)


@pytest.mark.parametrize("kernel", _kernels())
@pytest.mark.parametrize("causes", SUBMODEL_CAUSES)
def test_every_finding_positive_against_enumeration(model, causes, kernel):
    """The regime it is for: every binary finding a sub-model has given as present (the cancellation
    grows with each), against enumeration, which sums positive probabilities only; in numpy's
    double-double and in the compiled one."""
    from numbdx import _kernel

    sub = model.submodel(causes)
    positives = [f.name for f in sub.findings if f.kind == "binary"]
    evidence = {"age": 45, "sex": "female", **dict.fromkeys(positives, True)}
    assert len(positives) >= 14
    present, explains, _ = brute_force(sub, normalise(sub, evidence))
    with _kernel.use(kernel):
        got, bound, failure, _ = _solve(sub, evidence)
    assert failure is None and bound <= 1e-12
    n = len(sub.causes)
    np.testing.assert_allclose(got[:n], present, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got[n:], explains, rtol=0, atol=1e-12)


@settings(max_examples=12, deadline=None)
@given(many_positives(6, 13))
def test_agrees_with_quickscore(evidence):
    """On the full model, where Quickscore answers too (its terms within the budget)."""
    model = numbdx.load_model()
    try:
        normalised = normalise(model, evidence)
    except ImpossibleEvidenceError:
        return
    with quickscore_only():
        reference = _engine.infer_codes(model, _engine.codes_from_evidence(model, [normalised]), method="exact")
    got, bound, failure, _ = _solve(model, evidence)
    if reference.failure[0] is not None:
        assert isinstance(reference.failure[0], (InferenceLimitError, ImpossibleEvidenceError))
        return
    assert failure is None
    tolerance = bound + float(reference.error_bound[0]) + 1e-15
    n = len(model.causes)
    np.testing.assert_allclose(got[:n], reference.posterior[0], rtol=0, atol=tolerance)
    np.testing.assert_allclose(got[n:], reference.explains[0], rtol=0, atol=tolerance)


def test_infer_answers_twenty_positives_exactly():
    """Twenty positives: 524,288 Quickscore terms, past its budget; exact here, within the target."""
    model = numbdx.load_model()
    d = numbdx.infer(TWENTY, method="exact")
    assert d.method == "exact" and d.error_bound <= _engine.TARGET_ERROR
    codes = _engine.codes_from_evidence(model, [normalise(model, TWENTY)])
    assert _engine.row_terms(_engine._compile(model), codes.findings[0], int(codes.side[0])) > _engine.MAX_TERMS
    got, _, _, _ = _solve(model, TWENTY)
    assert [c.posterior for c in d.causes] == pytest.approx(
        [got[model.cause_index[c.name]] for c in d.causes], abs=1e-15
    )


@pytest.mark.skipif(not _has_numba(), reason="the numba extra is not installed")
def test_compiled_double_double_gives_numpys_numbers_bit_for_bit(monkeypatch):
    """``_numba_kernels.dd_mul`` and ``dd_add`` do numpy's double-double operations in its order (the
    product's exact error by fma rather than Dekker's split, the same number): every sum equal, and
    the compiled operations did run."""
    from numbdx import _kernel, _numba_kernels

    calls = []
    for name in ("dd_mul", "dd_add"):
        real = getattr(_numba_kernels, name)
        monkeypatch.setattr(_numba_kernels, name, lambda *a, real=real, name=name: calls.append(name) or real(*a))

    model = numbdx.load_model()
    codes = _engine.codes_from_evidence(model, [normalise(model, TWENTY)])
    args = (model, codes.upper[0], codes.findings[0], int(codes.side[0]), "double_double")
    with _kernel.use("numpy"):
        numpy_sums = _choice_elimination.sums(*args)
    assert not calls
    with _kernel.use("numba"):
        compiled_sums = _choice_elimination.sums(*args)
    assert {"dd_mul", "dd_add"} <= set(calls)
    assert numpy_sums.depth == compiled_sums.depth
    np.testing.assert_array_equal(compiled_sums.total, numpy_sums.total)


@pytest.mark.parametrize("kernel", _kernels())
def test_left_out_sets_equal_the_reduced_evidence(kernel):
    """The triage's re-checks, from one elimination of every set at once (``np.longdouble`` on numpy,
    double-double compiled), against the reduced evidence answered afresh in double-double."""
    from numbdx import _kernel

    model = numbdx.load_model()
    subsets, request = _triage.left_out_request(model, normalise(model, TWENTY).values)
    assert len(subsets) == 7
    with _kernel.use(kernel):
        _, _, failure, out = _solve(model, TWENTY, request)
    assert failure is None
    columns = [*request.causes, *(len(model.causes) + c for c in request.causes)]
    for names, answer in zip(subsets, out["left_out"]):
        assert answer is not None, names
        row, bound = answer
        assert bound <= (1e-12 if kernel == "numba" else request.target_error)
        reduced = {k: v for k, v in TWENTY.items() if k not in names}
        want, want_bound, _, _ = _solve(model, reduced)
        np.testing.assert_allclose(row[columns], want[columns], rtol=0, atol=bound + want_bound)
        assert np.isnan(np.delete(row, columns)).all()


def test_left_out_sets_in_groups_equal_one_batch(monkeypatch):
    """Sets split into groups (a batch limit of one set's tables) give each set the answer one batch
    of all of them gives; past the sets' work limit none is answered here (the triage infers them)."""
    model = numbdx.load_model()
    _, request = _triage.left_out_request(model, normalise(model, TWENTY).values)
    _, _, _, whole = _solve(model, TWENTY, request)
    monkeypatch.setattr(_choice_elimination, "LEFT_OUT_BATCH_ENTRIES", 1)
    batches = []
    real_sums = _choice_elimination.sums

    def counting(*args, **kwargs):
        batches.extend([len(args[5])] if len(args) > 5 and args[5] else [])
        return real_sums(*args, **kwargs)

    monkeypatch.setattr(_choice_elimination, "sums", counting)
    _, _, _, grouped = _solve(model, TWENTY, request)
    assert batches == [1] * len(request.subsets)  # one set per group
    assert len(grouped["left_out"]) == len(whole["left_out"]) == len(request.subsets)
    for (row, bound), (want, want_bound) in zip(grouped["left_out"], whole["left_out"]):
        np.testing.assert_allclose(row, want, rtol=0, atol=bound + want_bound)
    monkeypatch.setattr(_choice_elimination, "LEFT_OUT_WORK", 0)
    _, _, failure, none = _solve(model, TWENTY, request)
    assert failure is None and "left_out" not in none


def test_infer_takes_the_re_checks_from_the_same_call(monkeypatch):
    """infer's triage reads the re-checks the engine made; it neither re-infers each set nor asks
    Quickscore's masks."""

    def forbidden(*args, **kwargs):
        raise AssertionError("the triage inferred the re-checks again")

    monkeypatch.setattr(_triage, "_reduced", forbidden)
    monkeypatch.setattr(_triage, "_left_out", forbidden)
    d = numbdx.infer(TWENTY)
    assert d.method == "exact"


def test_work_past_the_limit_falls_back_to_sampling(monkeypatch):
    """Past the table or the work limit: method="exact" raises, method="auto" samples and says so."""
    monkeypatch.setattr(_choice_elimination, "MAX_TABLE_ENTRIES", 1024)
    with pytest.raises(InferenceLimitError, match="needs a table of 65,536 entries"):
        numbdx.infer(TWENTY, method="exact")
    monkeypatch.setattr(_choice_elimination, "MAX_TABLE_ENTRIES", 1 << 19)
    monkeypatch.setattr(_choice_elimination, "MAX_WORK", 64)
    with pytest.raises(InferenceLimitError, match="needs work of"):
        numbdx.infer(TWENTY, method="exact")
    d = numbdx.infer(TWENTY)
    assert d.method == "importance_sampling" and d.error_bound > 0


def test_extended_precision_alone_would_miss_the_target():
    """The bound follows the arithmetic: at twenty positives the same elimination in ``np.longdouble``
    is bounded far above the target (about 1e-7), which is why the answer runs in double-double."""
    model = numbdx.load_model()
    codes = _engine.codes_from_evidence(model, [normalise(model, TWENTY)])
    args = (model, codes.upper[0], codes.findings[0], int(codes.side[0]))
    absolute = _choice_elimination.sums(*args, "absolute").total
    extended = _choice_elimination.sums(*args, "extended")
    depth, extended = extended.depth, extended.total
    eps = float(np.finfo(np.longdouble).eps)
    if eps > 2.0**-60:  # np.longdouble is float64 here, or IEEE quad: nothing to compare
        pytest.skip("needs x87 extended precision")
    assert eps * depth * float(absolute[0, 0] / extended[0, 0]) > _engine.TARGET_ERROR


def test_rows_past_quickscores_count_of_positives_go_to_the_choices(monkeypatch):
    """``_engine._by_choices``: beside the terms, the count of positives of more than one term that
    Quickscore is tried on (``AUTO_EXACT_POSITIVES`` on numpy) sends a row here; one fewer does not."""
    from numbdx import _kernel

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    monkeypatch.setattr(_engine, "CHOICES_FROM_TERMS", float("inf"))
    names = [n for n in TWENTY if TWENTY[n] is True and n not in ("diabetes", "overweight")]
    codes = _engine.codes_from_evidence(model, [normalise(model, {"age": 58, **dict.fromkeys(names, True)})])
    expanding = _engine._expanding_positives(compiled, codes.findings)[0]
    assert expanding > _engine.AUTO_EXACT_POSITIVES
    with _kernel.use("numpy"):
        assert _engine._by_choices(compiled, codes)[0]
        monkeypatch.setattr(_engine, "AUTO_EXACT_POSITIVES", int(expanding))
        assert not _engine._by_choices(compiled, codes)[0]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(evidence(max_findings=6), many_positives(8, 16)), min_size=1, max_size=6))
def test_rows_go_to_the_choices_by_their_terms_and_positives(rows):
    """``_engine._by_choices`` (from the positives alone) against each row's ``row_terms`` and
    ``_expanding_positives`` on every finding."""
    from numbdx import _kernel

    model = numbdx.load_model()
    codes = possible_codes(model, rows)
    if codes is None:
        return
    compiled = _engine._compile(model)
    terms = np.array([_engine.row_terms(compiled, f, int(s)) for f, s in zip(codes.findings, codes.side)])
    expanding = _engine._expanding_positives(compiled, codes.findings)
    # the shipped limits, then each criterion deciding alone
    alone = (
        {"CHOICES_FROM_TERMS": 64, "AUTO_EXACT_POSITIVES": 99},
        {"CHOICES_FROM_TERMS": np.inf, "AUTO_EXACT_POSITIVES": 3},
    )
    for limits in ({}, *alone):
        with _kernel.use("numpy"), pytest.MonkeyPatch.context() as patch:
            for name, value in limits.items():
                patch.setattr(_engine, name, value)
            want = (terms > _engine.CHOICES_FROM_TERMS) | (expanding > _engine.AUTO_EXACT_POSITIVES)
            np.testing.assert_array_equal(_engine._by_choices(compiled, codes), want)
