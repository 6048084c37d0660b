"""Score a table of patients: ``numbdx.infer_frame(df)``.

Runs unchanged as a Dask partition function (``ddf.map_partitions(numbdx.infer_frame)``): it takes
and returns a pandas DataFrame, keeps the index, and gives an empty frame with the right columns for
an empty input (Dask's ``meta``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from ._api import infer, load_model
from ._exceptions import EvidenceError, InvalidEvidenceValueError, UnknownEvidenceError

if TYPE_CHECKING:
    import pandas as pd

    from ._model import Model

QUANTITIES = ("explains", "posterior", "prior")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return isinstance(value, float) and math.isnan(value)


def infer_frame(
    frame: pd.DataFrame,
    *,
    model: Model | None = None,
    quantity: Literal["explains", "posterior", "prior"] = "explains",
    errors: Literal["raise", "nan"] = "raise",
) -> pd.DataFrame:
    """Score every row of ``frame`` (one patient per row) like :func:`numbdx.infer`.

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

    Returns
    -------
    pandas.DataFrame
        Same index as ``frame``; one float column per cause, in model order.
    """
    import pandas as pd

    model = model if model is not None else load_model()
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    if errors not in ("raise", "nan"):
        raise ValueError(f"errors must be 'raise' or 'nan', got {errors!r}")
    if not isinstance(frame, pd.DataFrame):
        raise InvalidEvidenceValueError(f"infer_frame expects a pandas DataFrame, got {type(frame).__name__}")
    known = set(model.evidence_names())
    for column in frame.columns:
        if column not in known:
            import difflib

            raise UnknownEvidenceError(column, difflib.get_close_matches(str(column), sorted(known), n=3, cutoff=0.6))
    names = list(model.cause_names)
    rows = []
    for index, record in zip(frame.index, frame.to_dict(orient="records")):
        evidence = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items() if not _is_missing(v)}
        try:
            d = infer(evidence, model=model)
        except EvidenceError as exc:
            if errors == "raise":
                raise type(exc)(f"row {index!r}: {exc}") from exc
            rows.append([math.nan] * len(names))
            continue
        rows.append([getattr(d[name], quantity) for name in names])
    return pd.DataFrame(rows, index=frame.index, columns=names, dtype=float)
