"""``infer_frame``: the numbers of row-by-row ``infer`` (to within the engine's error bound: the frame
path enters risk factors as indicators, ``infer`` selects them), bitwise the same whatever the batch,
missing values unknown, errors per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbdx
from numbdx import ImpossibleEvidenceError, InvalidEvidenceValueError, UnknownEvidenceError

from .strategies import evidence

MODEL = numbdx.load_model()


def _row_by_row(rows: list[dict], quantity: str) -> np.ndarray:
    out = []
    for ev in rows:
        d = numbdx.infer(ev)
        out.append([getattr(d[c], quantity) for c in MODEL.cause_names])
    return np.array(out)


@settings(max_examples=15)
@given(
    st.lists(evidence(MODEL, max_findings=5, chief=None), min_size=1, max_size=25),
    st.sampled_from(["explains", "posterior", "prior"]),
)
def test_frame_equals_row_by_row(rows, quantity):
    try:
        expected = _row_by_row(rows, quantity)
    except ImpossibleEvidenceError:
        return
    frame = pd.DataFrame(rows, index=[f"p{i}" for i in range(len(rows))])  # absent keys become NaN
    got = numbdx.infer_frame(frame, quantity=quantity)
    assert list(got.index) == list(frame.index) and list(got.columns) == list(MODEL.cause_names)
    # the same numbers as infer, to well within every answer's 1e-9 error bound
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=0, atol=1e-9)
    # bitwise: a row's arithmetic does not depend on the other rows in its frame
    alone = pd.concat([numbdx.infer_frame(frame.iloc[[i]], quantity=quantity) for i in range(len(rows))])
    np.testing.assert_array_equal(alone.to_numpy(), got.to_numpy())
    halves = pd.concat(
        [
            numbdx.infer_frame(frame.iloc[: len(rows) // 2], quantity=quantity),
            numbdx.infer_frame(frame.iloc[len(rows) // 2 :], quantity=quantity),
        ]
    )
    np.testing.assert_array_equal(halves.to_numpy(), got.to_numpy())


def test_missing_values_are_unknown_and_empty_frames_keep_columns():
    frame = pd.DataFrame({"age": [40.0, np.nan], "sex": ["female", None], "numb_heel": [True, pd.NA]})
    got = numbdx.infer_frame(frame)
    assert np.allclose(got.iloc[1], numbdx.infer_frame(pd.DataFrame(index=[0])).iloc[0])
    assert np.allclose(
        got.iloc[0],
        [numbdx.infer({"age": 40.0, "sex": "female", "numb_heel": True})[c].explains for c in MODEL.cause_names],
    )
    empty = numbdx.infer_frame(frame.iloc[:0])
    assert empty.shape == (0, len(MODEL.causes)) and list(empty.columns) == list(MODEL.cause_names)


def test_yes_no_columns_read_the_same_whatever_their_dtype():
    """A yes/no column is read the same however pandas holds it: missing as None, NaN or pd.NA,
    numpy's or Python's bools, a nullable boolean column, one with no value at all; and a value that
    is not a bool (1, 1.0, "True") fails its own row only, named."""
    from numbdx import _frame

    diabetes = [v.name for v in MODEL.upper].index("diabetes")
    expected = [1, 0, -1, -1, 1, 0]
    columns = {
        "object, None and NaN": pd.Series([True, False, None, np.nan, np.True_, np.False_], dtype=object),
        "object, pd.NA": pd.Series([True, False, pd.NA, None, True, False], dtype=object),
        "nullable boolean": pd.Series([True, False, None, None, True, False], dtype="boolean"),
        "numpy bool": pd.Series([True, False, True, False, True, False]),
        "nothing known, object": pd.Series([None] * 6, dtype=object),
        "nothing known, float": pd.Series([np.nan] * 6),
    }
    for name, column in columns.items():
        codes, errors = _frame.encode_frame(MODEL, pd.DataFrame({"diabetes": column}))
        assert not errors, name
        want = [1, 0, 1, 0, 1, 0] if name == "numpy bool" else [-1] * 6 if name.startswith("nothing") else expected
        assert codes.upper[:, diabetes].tolist() == want, name
    codes, errors = _frame.encode_frame(MODEL, pd.DataFrame({"diabetes": pd.Series([True, 1, 1.0, "True", None])}))
    assert sorted(errors) == [1, 2, 3]
    assert all("expects True or False" in str(errors[r]) for r in errors)
    assert codes.upper[[0, 4], diabetes].tolist() == [1, -1]


def test_bad_rows_raise_with_their_label_or_become_nan():
    frame = pd.DataFrame(
        {"sex": ["female", "male", "female"], "pregnancy": [True, True, False], "diabetes": [True, False, "yes"]},
        index=["ok", "pregnant_man", "typo"],
    )
    with pytest.raises(
        ImpossibleEvidenceError, match="row 'pregnant_man': pregnancy=True is impossible for sex='male'"
    ):
        numbdx.infer_frame(frame.iloc[:2])
    with pytest.raises(InvalidEvidenceValueError, match=r"row 'typo'.*diabetes"):
        numbdx.infer_frame(frame.iloc[[0, 2]])
    got = numbdx.infer_frame(frame, errors="nan")
    assert got.loc["ok"].notna().all() and got.loc[["pregnant_man", "typo"]].isna().all().all()


def test_integer_row_labels_read_as_written():
    frame = pd.DataFrame({"sex": ["male"], "pregnancy": [True]}, index=pd.Index([137], dtype="int64"))
    with pytest.raises(ImpossibleEvidenceError, match=r"^row 137: "):
        numbdx.infer_frame(frame)


def test_unknown_column_is_an_error():
    with pytest.raises(UnknownEvidenceError, match="numb_heel"):
        numbdx.infer_frame(pd.DataFrame({"numb_heal": [True]}))


def test_blocks_of_rows_change_no_number_and_name_the_failing_row(monkeypatch):
    """``infer_frame`` scores a long frame a block of rows at a time (to bound its memory): the
    numbers are bitwise those of one block, and a row the engine refuses is named by its own label."""
    from numbdx import InferenceLimitError, _choice_elimination, _frame

    many = dict.fromkeys([f.name for f in MODEL.findings if f.kind == "binary" and not f.gated][:20], True)
    rows = [
        {"age": 40, "numb_toes": True},
        {"sex": "female", "numb_heel": True, "swelling": False},
        {"age": 70, "smoking": True, "pain_worse_walking": True},
        {"age": 50, **many},  # 20 positive findings: refused below (no work allowed over their choices)
        {"diabetes": True, "burning": True, "tingling": True},
    ]
    frame = pd.DataFrame(rows, index=[f"p{i}" for i in range(len(rows))])
    monkeypatch.setattr(_choice_elimination, "MAX_WORK", 0)
    whole = numbdx.infer_frame(frame, method="exact", errors="nan")
    monkeypatch.setattr(_frame, "FRAME_BLOCK_ROWS", 2)
    blocked = numbdx.infer_frame(frame, method="exact", errors="nan")
    np.testing.assert_array_equal(blocked.to_numpy(), whole.to_numpy())
    assert blocked.loc["p3"].isna().all() and blocked.drop(index="p3").notna().all().all()
    with pytest.raises(InferenceLimitError, match=r"^row 'p3': "):
        numbdx.infer_frame(frame, method="exact")
