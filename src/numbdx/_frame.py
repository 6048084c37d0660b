"""Score a table of patients: ``numbdx.infer_frame(df)``.

Columns are validated and encoded at once (no Python work per row), and rows whose evidence has the
same shape are scored together by the same engine that answers :func:`numbdx.infer` (a batch of one),
so a row gets the numbers ``infer`` gives it. Runs unchanged as a Dask partition function
(``ddf.map_partitions(numbdx.infer_frame)``): it takes and returns a pandas DataFrame, keeps the
index, and gives an empty frame with the right columns for an empty input (Dask's ``meta``).
"""

from __future__ import annotations

import difflib
import itertools
import numbers
from typing import TYPE_CHECKING, Literal

import numpy as np

from ._api import load_model
from ._engine import Codes, infer_codes
from ._evidence import MAX_AGE
from ._exceptions import EvidenceError, ImpossibleEvidenceError, InvalidEvidenceValueError, UnknownEvidenceError
from ._model import CHIEF_COMPLAINT, Model

if TYPE_CHECKING:
    import pandas as pd

QUANTITIES = ("explains", "posterior", "prior")
# rows scored at once. On bench_batch's cohort, scoring in one block took 99 MB above the frame at
# 5,000 rows and 238 MB at 20,000 (about 12 KB a row: a million rows would need gigabytes); in blocks
# of 10,000 it took 167 MB at 20,000 rows and 173 MB at 40,000, at the same rows/s (measured)
FRAME_BLOCK_ROWS = 10_000
_SIDE_CODE = {"left": 1, "right": 2, "both": 3}


def _label(label: object) -> object:
    """A row label as the user wrote it (``137``, not ``np.int64(137)``)."""
    return label.item() if isinstance(label, np.generic) else label


class _Rows:
    """Per-row validation errors, first one kept."""

    def __init__(self, index: pd.Index) -> None:
        self.index = index
        self.errors: dict[int, EvidenceError] = {}

    def fail(self, rows: np.ndarray, make: type[EvidenceError], message: str) -> None:
        for r in np.flatnonzero(rows):
            self.errors.setdefault(int(r), make(f"row {_label(self.index[r])!r}: {message}"))


def _booleans(column: pd.Series, name: str, rows: _Rows) -> np.ndarray:
    """-1 missing, 0 False, 1 True; anything else is an error for that row."""
    import pandas as pd

    if column.dtype == bool:
        return column.to_numpy().astype(np.int64)
    if isinstance(column.dtype, pd.BooleanDtype):
        missing = column.isna().to_numpy()
        return np.where(missing, -1, column.to_numpy(dtype=bool, na_value=False)).astype(np.int64)
    values = column.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) in ("boolean", "empty"):  # every known value a bool
        # bools, None and NaN become 1, 0 and NaN in one pass, with no missing mask (bench_batch's 78
        # object columns: 44 -> 38 ms); pd.NA cannot, and takes the path below
        try:
            as_float = values.astype(np.float64)
        except TypeError:
            pass
        else:
            return np.where(np.isnan(as_float), -1, as_float).astype(np.int64)
    out = np.full(len(column), -1, dtype=np.int64)
    missing = column.isna().to_numpy()
    valid = np.array([isinstance(v, bool | np.bool_) for v in values], dtype=bool) | missing
    rows.fail(~valid, InvalidEvidenceValueError, f"evidence {name!r} expects True or False")
    ok = valid & ~missing
    out[ok] = np.array([bool(v) for v in values[ok]], dtype=np.int64)
    return out


def _states(column: pd.Series, name: str, states: tuple[str, ...], rows: _Rows) -> np.ndarray:
    """-1 missing, else the index of the state; anything else is an error for that row."""
    import pandas as pd

    missing = column.isna().to_numpy()
    values = column.to_numpy(dtype=object)
    out = np.full(len(column), -1, dtype=np.int64)
    if pd.api.types.infer_dtype(values, skipna=True) == "string":  # every known value a str
        known = np.flatnonzero(~missing)
        for k, state in enumerate(states):
            out[known[values[known] == state]] = k
    else:
        for k, state in enumerate(states):
            out[np.array([isinstance(v, str) and v == state for v in values], dtype=bool)] = k
    rows.fail((out < 0) & ~missing, InvalidEvidenceValueError, f"evidence {name!r} expects one of {states}")
    return out


def _ages(model: Model, column: pd.Series, rows: _Rows) -> np.ndarray:
    """-1 missing, else the age band; a non-number or an age outside 0-130 is an error for that row."""
    missing = column.isna().to_numpy()
    if column.dtype.kind in "iuf":
        years = column.to_numpy(dtype=float)
    else:
        values = column.to_numpy(dtype=object)
        numeric = np.array(
            [isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in values], dtype=bool
        )
        rows.fail(~numeric & ~missing, InvalidEvidenceValueError, "evidence 'age' expects a number of years")
        years = np.array([float(v) if ok else np.nan for v, ok in zip(values, numeric)])
    known = ~np.isnan(years)
    bad = known & ~((years >= 0) & (years <= MAX_AGE))
    rows.fail(bad, InvalidEvidenceValueError, f"evidence 'age' must be between 0 and {MAX_AGE:g} years")
    bounds = np.asarray(model.knowledge.age_lower_bounds)
    out = np.full(len(column), -1, dtype=np.int64)
    good = known & ~bad
    out[good] = np.searchsorted(bounds, years[good], side="right") - 1
    return out


def encode_frame(model: Model, frame: pd.DataFrame) -> tuple[Codes, dict[int, EvidenceError]]:
    """Validate ``frame`` and encode it for the engine; per-row errors are returned, not raised."""
    known = set(model.evidence_names())
    for column in frame.columns:
        if column not in known:
            raise UnknownEvidenceError(column, difflib.get_close_matches(str(column), sorted(known), n=3, cutoff=0.6))
    n = len(frame)
    rows = _Rows(frame.index)
    upper = np.full((n, len(model.upper)), -1, dtype=np.int64)
    for i, var in enumerate(model.upper):
        if var.name not in frame:
            continue
        column = frame[var.name]
        if var.name == "age":
            upper[:, i] = _ages(model, column, rows)
        elif var.name == "sex":
            upper[:, i] = _states(column, "sex", var.states, rows)
        else:
            upper[:, i] = _booleans(column, var.name, rows)
    # a risk factor observed in a state its prior rules out in the observed context (pregnancy in a man)
    for i, var in enumerate(model.upper):
        observed = upper[:, i] >= 0
        if not observed.any() or not var.parents:
            continue
        possible = np.ones(n, dtype=bool)
        parent_known = [upper[:, p] >= 0 for p in var.parents]
        for flags in itertools.product((True, False), repeat=len(var.parents)):
            selected = observed.copy()
            for known, flag in zip(parent_known, flags):
                selected &= known == flag
            if not selected.any():
                continue
            table = var.table  # an unknown parent allows any of its states
            for axis in reversed([a for a, flag in enumerate(flags) if not flag]):
                table = table.max(axis=axis)
            index = tuple(upper[selected, p] for p, flag in zip(var.parents, flags) if flag)
            possible[selected] = table[(*index, upper[selected, i])] > 0
        for r in np.flatnonzero(~possible):  # say which context rules it out, as infer does
            context = ", ".join(
                f"{model.upper[p].name}={model.upper[p].states[upper[r, p]]!r}" for p in var.parents if upper[r, p] >= 0
            )
            rows.fail(
                np.arange(n) == r,
                ImpossibleEvidenceError,
                f"{var.name}={var.states[upper[r, i]]} is impossible" + (f" for {context}" if context else ""),
            )

    chief = np.ones(n, dtype=np.int64)
    if CHIEF_COMPLAINT in frame:
        given = _booleans(frame[CHIEF_COMPLAINT], CHIEF_COMPLAINT, rows)
        chief = np.where(given >= 0, given, 1)
    findings = np.full((n, len(model.findings)), -1, dtype=np.int64)
    side = np.where(chief == 1, 0, 4)
    for i, f in enumerate(model.findings):
        if f.name not in frame:
            continue
        column = frame[f.name]
        if f.kind == "side":
            code = _states(column, f.name, f.states, rows)
            given = code >= 0
            rows.fail(given & (chief == 0), ImpossibleEvidenceError, f"{f.name} contradicts {CHIEF_COMPLAINT}=False")
            side = np.where(given & (chief == 1), code + 1, side)
            continue
        if f.kind == "binary":
            pattern = _booleans(column, f.name, rows)
        else:
            state = _states(column, f.name, f.states, rows)
            pattern = np.where(state < 0, -1, np.where(state == 0, 1, 0))  # first state = unit on
        if f.gated:
            contradiction = (chief == 0) & ((pattern == 1) | ((pattern == 0) & (f.kind != "binary")))
            rows.fail(
                contradiction,
                ImpossibleEvidenceError,
                f"{f.name} describes the leg numbness, but {CHIEF_COMPLAINT}=False",
            )
            pattern = np.where(chief == 0, -1, pattern)  # implied by the absence of leg numbness
        findings[:, i] = pattern
    return Codes(upper, findings, side), rows.errors


def infer_frame(
    frame: pd.DataFrame,
    *,
    model: Model | None = None,
    quantity: Literal["explains", "posterior", "prior"] = "explains",
    errors: Literal["raise", "nan"] = "raise",
    method: Literal["auto", "exact", "sampling"] = "auto",
    details: bool = False,
) -> pd.DataFrame:
    """Score every row of ``frame`` (one patient per row) as :func:`numbdx.infer` would.

    The numbers agree with ``infer``'s to within their error bound, not bitwise: here risk factors
    enter as indicators, so rows that know different risk factors share one elimination, where
    ``infer`` selects them. A row's numbers are bitwise the same whatever the other rows in the frame.
    Rows are scored ``FRAME_BLOCK_ROWS`` (10,000) at a time, so memory stays bounded however long the
    frame; for more rows than one process should score, see ``map_partitions`` above.

    Parameters
    ----------
    frame
        Columns are evidence names (see :func:`numbdx.vocabulary`); a missing value (NaN, None,
        ``pd.NA``) is unknown. Values otherwise follow :func:`numbdx.infer`.
    model
        The model to use; the shipped model by default.
    quantity
        Which probability to return per cause: ``"explains"`` (P(cause produces the numbness | row),
        the ranking of :class:`Differential`), ``"posterior"`` or ``"prior"``.
    errors
        ``"raise"``: a row with invalid or impossible evidence raises, naming the row. ``"nan"``: that
        row's probabilities are NaN.
    method
        As in :func:`numbdx.infer`: ``"auto"`` answers exactly and, for a row past the exact limit
        (more than about 12 positive findings of more than one term each, 13 with the ``numba``
        extra: frames do not get one patient's exact inputs), by importance sampling with an error
        bound;
        ``"exact"`` fails such rows (raise, or NaN with ``errors="nan"``).
    details
        Add the columns ``method`` (``"exact"`` or ``"importance_sampling"``, per row) and
        ``error_bound`` (bound on the absolute error of the row's probabilities) after the causes.

    Returns
    -------
    pandas.DataFrame
        Same index as ``frame``; one float column per cause, in model order (and the two ``details``
        columns when asked for).

    Raises
    ------
    UnknownEvidenceError
        A column is not an evidence name (whatever ``errors`` says).
    """
    import pandas as pd

    model = model if model is not None else load_model()
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
    if not isinstance(frame, pd.DataFrame):
        raise InvalidEvidenceValueError(f"infer_frame expects a pandas DataFrame, got {type(frame).__name__}")
    codes, row_errors = encode_frame(model, frame)
    if row_errors and errors == "raise":
        raise row_errors[min(row_errors)]
    good = np.setdiff1d(np.arange(len(frame)), np.fromiter(row_errors, dtype=np.int64))
    values = np.full((len(frame), len(model.causes)), np.nan)
    used = np.full(len(frame), None, dtype=object)
    bound = np.full(len(frame), np.nan)
    # blocks of rows bound the memory (a block's terms are held at once); a row's numbers do not
    # depend on its batch, so blocking changes none of them
    for start in range(0, len(good), FRAME_BLOCK_ROWS):
        block = good[start : start + FRAME_BLOCK_ROWS]
        answer = infer_codes(
            model,
            Codes(codes.upper[block], codes.findings[block], codes.side[block]),
            with_prior=quantity == "prior",
            method=method,
            shared_plans=True,  # rows observing different risk factors share eliminations
        )
        result = getattr(answer, quantity)
        for k, failure in enumerate(answer.failure):
            if failure is not None:
                if errors == "raise":
                    raise type(failure)(f"row {_label(frame.index[block[k]])!r}: {failure}")
                result[k] = np.nan
        values[block] = result
        used[block] = np.where([f is None for f in answer.failure], answer.method, None)
        bound[block] = answer.error_bound
    out = pd.DataFrame(values, index=frame.index, columns=list(model.cause_names))
    if details:
        out["method"] = pd.Series(used, index=frame.index, dtype=object)
        out["error_bound"] = bound
    return out
