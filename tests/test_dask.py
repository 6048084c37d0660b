"""numbdx on Dask: ``map_partitions(numbdx.infer_frame)`` gives what pandas gives, row for row.

The cohorts come from the generator of ``examples/cohort_dask.py``, loaded from its file, so the
example and the tests share one generator.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import numbdx

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cohort_dask.py"
ROWS, PARTITIONS, SEED = 2_000, 4, 20240601
INVALID_RATE = 0.01  # about 20 invalid rows, of three kinds


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("numbdx_example_cohort_dask", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that pickle and dask's tokenizer can find its functions
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return _load_example()


def _pandas_parts(example: ModuleType, rows: int, partitions: int, **kwargs) -> list[pd.DataFrame]:
    """The partitions ``example.cohort_frame`` builds lazily, built here in pandas."""
    bounds = example.boundaries(rows, partitions)
    return [example.cohort_partition(a, b, seed=SEED, **kwargs) for a, b in itertools.pairwise(bounds)]


def _score(example: ModuleType, ddf, **kwargs) -> pd.DataFrame:
    """Score on Dask with an explicit ``meta``, as the example does; threads share one loaded model."""
    meta = numbdx.infer_frame(example.empty_cohort(), **kwargs)
    return ddf.map_partitions(numbdx.infer_frame, meta=meta, **kwargs).compute(scheduler="threads")


def _by_partition(parts: list[pd.DataFrame], **kwargs) -> pd.DataFrame:
    """What Dask should return: ``infer_frame`` on each partition, in order."""
    return pd.concat([numbdx.infer_frame(part, **kwargs) for part in parts])


@pytest.fixture(scope="module")
def parts(example: ModuleType) -> list[pd.DataFrame]:
    return _pandas_parts(example, ROWS, PARTITIONS, invalid_rate=INVALID_RATE)


@pytest.fixture(scope="module")
def cohort(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts)


@pytest.fixture(scope="module")
def dask_scores(example: ModuleType) -> pd.DataFrame:
    return _score(example, example.cohort_frame(ROWS, PARTITIONS, SEED, invalid_rate=INVALID_RATE), errors="nan")


def test_cohort_is_lazy_and_partitioned_by_row_number(example: ModuleType, cohort: pd.DataFrame) -> None:
    ddf = example.cohort_frame(ROWS, PARTITIONS, SEED, invalid_rate=INVALID_RATE)
    assert ddf.npartitions == PARTITIONS
    assert ddf.known_divisions and ddf.divisions[0] == 0 and ddf.divisions[-1] == ROWS - 1
    assert list(ddf.columns) == list(cohort.columns) == example.cohort_columns()
    # the pandas build is the cohort the test claims: unknowns everywhere, some invalid rows
    assert cohort.index.equals(pd.RangeIndex(ROWS))
    assert cohort.isna().any().all()
    invalid = example.invalid_rows(cohort)
    assert len(invalid) >= 10
    assert cohort["age"].drop(invalid).dropna().between(18, 90).all()


def test_dask_equals_pandas_exactly(example: ModuleType, cohort: pd.DataFrame, dask_scores: pd.DataFrame) -> None:
    """Dask's result is ``infer_frame`` on the whole pandas frame, to the last bit."""
    expected = numbdx.infer_frame(cohort, errors="nan")
    assert list(dask_scores.columns) == list(numbdx.load_model().cause_names)
    assert (dask_scores.dtypes == np.float64).all()
    unscored = dask_scores.index[dask_scores.isna().all(axis=1)]
    assert unscored.equals(example.invalid_rows(cohort))  # NaN exactly where the evidence is invalid
    assert dask_scores.drop(unscored).notna().all().all()
    diff = float(np.nanmax(np.abs(dask_scores.to_numpy() - expected.to_numpy())))
    # If only this fails (test_dask_hands_each_partition_over_unchanged passes), a row's score depends
    # on the other rows in the frame it is scored with: numbdx, not Dask.
    assert diff == 0.0, f"Dask and pandas differ by up to {diff:.3g}"
    pd.testing.assert_frame_equal(dask_scores, expected, check_exact=True)  # index, columns, dtypes too


def test_dask_hands_each_partition_over_unchanged(parts: list[pd.DataFrame], dask_scores: pd.DataFrame) -> None:
    """Dask's plumbing alone: each partition scored as pandas scores it, reassembled in order."""
    pd.testing.assert_frame_equal(dask_scores, _by_partition(parts, errors="nan"), check_exact=True)


def test_object_columns_with_none_and_nan(example: ModuleType) -> None:
    """Python True/False with None and NaN for unknown, as a frame read from JSON holds them."""
    rows = 200
    parts = _pandas_parts(example, rows, PARTITIONS, invalid_rate=0.05, dtypes="object")
    missing = pd.concat(parts).drop(columns="age").to_numpy().ravel()
    assert any(v is None for v in missing) and any(isinstance(v, float) and np.isnan(v) for v in missing)
    expected = _by_partition(parts, errors="nan")
    assert expected.isna().all(axis=1).any()
    # Dask's default string conversion would turn object True into "True", which numbdx rejects.
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = example.cohort_frame(rows, PARTITIONS, SEED, invalid_rate=0.05, dtypes="object")
        got = _score(example, ddf, errors="nan")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    # the nullable-dtype cohort of the same seed holds the same values: the same scores
    nullable = _pandas_parts(example, rows, PARTITIONS, invalid_rate=0.05)
    pd.testing.assert_frame_equal(got, _by_partition(nullable, errors="nan"), check_exact=True)


IMPOSSIBLE = 137  # a row made pregnant and male


@pytest.fixture(scope="module")
def with_pregnant_man(example: ModuleType) -> pd.DataFrame:
    frame = pd.concat(_pandas_parts(example, 200, PARTITIONS))
    assert example.invalid_rows(frame).empty
    frame.loc[IMPOSSIBLE, ["age", "sex", "pregnancy"]] = [30.0, "male", True]
    return frame


def test_errors_nan_scores_the_impossible_row_nan(example: ModuleType, with_pregnant_man: pd.DataFrame) -> None:
    ddf = dd.from_pandas(with_pregnant_man, npartitions=PARTITIONS)
    got = _score(example, ddf, errors="nan")
    parts = [ddf.get_partition(i).compute() for i in range(ddf.npartitions)]
    pd.testing.assert_frame_equal(got, _by_partition(parts, errors="nan"), check_exact=True)
    assert got.index.equals(with_pregnant_man.index)
    assert got.loc[IMPOSSIBLE].isna().all()
    assert got.drop(IMPOSSIBLE).notna().all().all()


def test_errors_raise_names_the_row(example: ModuleType, with_pregnant_man: pd.DataFrame) -> None:
    ddf = dd.from_pandas(with_pregnant_man, npartitions=PARTITIONS)
    assert IMPOSSIBLE >= ddf.divisions[1]  # not in the first partition
    # the local schedulers re-raise the worker's exception: the numbdx type, with the global row label
    with pytest.raises(numbdx.ImpossibleEvidenceError, match=rf"^row {IMPOSSIBLE}\b.*pregnan"):
        _score(example, ddf)


def test_example_script_runs_on_processes(tmp_path: Path) -> None:
    """The script end to end: default (processes) scheduler, summary printed."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--rows", "300", "--partitions", "2", "--invalid-rate", "0.02"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=True,
    )
    out = done.stdout
    assert re.search(r"rows:\s+300 in 2 partitions \(processes scheduler", out), out
    scored = int(re.search(r"rows scored: (\d+) \((\d+) unscored", out).group(1))
    assert 250 < scored < 300
    assert len(re.findall(r"^  \w+ +0\.\d{4}$", out, flags=re.MULTILINE)) == 5
