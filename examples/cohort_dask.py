"""Score a synthetic cohort of patients with numbdx on Dask.

Run with::

    python examples/cohort_dask.py                      # 1,000,000 rows
    python examples/cohort_dask.py --rows 20000 --partitions 8

The cohort is generated partition by partition inside the workers (``dask.dataframe.from_map``), so
a worker holds only the partitions it is working on, never the whole cohort; each partition is scored
by ``numbdx.infer_frame`` through ``map_partitions`` and only per-cause sums and counts come back.

On a distributed cluster
------------------------
The same graph runs on a ``dask.distributed`` cluster (``pip install "dask[distributed]"``, and
numbdx installed on every worker). A ``Client`` becomes the default scheduler, so compute without a
``scheduler=`` argument (``main`` below passes one, for the local schedulers). The address is an
example only::

    import numbdx
    from dask.distributed import Client

    from cohort_dask import cohort_frame, empty_cohort

    client = Client("tcp://scheduler:8786")  # your scheduler's address
    client.upload_file("examples/cohort_dask.py")  # the workers import cohort_partition from it
    ddf = cohort_frame(rows=1_000_000, partitions=1_000, seed=20240601)
    meta = numbdx.infer_frame(empty_cohort(), errors="nan")
    scores = ddf.map_partitions(numbdx.infer_frame, errors="nan", meta=meta)
    means = scores.mean().compute()

Keep several partitions per worker thread, so that the last ones do not leave the others idle, and
worker processes with one thread each if threads do not scale (see ``main``). A worker process
loads the model once and keeps it (``numbdx.load_model`` caches it).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

import numbdx

if TYPE_CHECKING:
    import dask.dataframe as dd

#: Which dtypes the generated columns have (see :func:`cohort_partition`).
Dtypes = Literal["nullable", "object"]

# (name, prevalence, fraction of patients asked). Rough adult figures; diabetes and cholesterol
# rise with age below, pregnancy is handled on its own (women 18-45 only).
RISK_FACTORS: tuple[tuple[str, float, float], ...] = (
    ("diabetes", 0.11, 0.80),
    ("smoking", 0.18, 0.75),
    ("alcohol_abuse", 0.06, 0.50),
    ("overweight", 0.35, 0.60),
    ("high_cholesterol", 0.25, 0.50),
    ("sedentary_lifestyle", 0.30, 0.40),
)
PREGNANCY_RATE = 0.05  # among women 18-45 who are asked
PREGNANCY_ASKED = 0.70

# Relative chance that a finding of each group is among the 0-6 reported: numbness location and
# sensation are what patients describe; test results are rarely known at triage.
GROUP_WEIGHT = {
    "chief_complaint": 3.0,
    "location": 3.0,
    "sensation": 3.0,
    "pain": 2.0,
    "timing": 1.5,
    "course": 1.5,
    "sign": 1.0,
    "test": 0.5,
}
FINDINGS_PER_ROW = np.array([0.10, 0.20, 0.22, 0.20, 0.14, 0.09, 0.05])  # P(0), ..., P(6) findings
P_PRESENT = 0.75  # a reported binary finding is present (else explicitly absent)

# infer_frame's cost per row grows with the size of the frame (measured at commit 25303f7, rows per
# CPU-second: 400-580 for 250-2,000 rows, 345 for 4,000, 212 for 8,000, about 140 for 20,000), so
# partitions stay small; the overhead of 1,000 tasks per million rows is negligible next to that.
ROWS_PER_PARTITION = 1_000

CHIEF_COMPLAINT = "leg_numbness"
INVALID_KINDS = ("pregnant_male", "numb_heel_without_numbness", "age_out_of_range")


@functools.cache
def _findings() -> tuple[tuple[str, ...], tuple[tuple[str, ...] | None, ...], np.ndarray]:
    """Finding names (without the chief complaint), their states (None if binary) and weights."""
    vocab = numbdx.vocabulary()
    vocab = vocab[(vocab["kind"] == "finding") & (vocab["name"] != CHIEF_COMPLAINT)]
    states = tuple(None if s == "True, False" else tuple(s.split(", ")) for s in vocab["states"])
    weights = np.array([GROUP_WEIGHT[g] for g in vocab["group"]])
    return tuple(vocab["name"]), states, weights


def cohort_columns() -> list[str]:
    """The columns of every generated partition, in order."""
    names, _, _ = _findings()
    return ["age", "sex", *(r[0] for r in RISK_FACTORS), "pregnancy", CHIEF_COMPLAINT, *names]


def _column(
    values: np.ndarray, missing: np.ndarray, kind: Literal["bool", "str"], dtypes: Dtypes, mix: np.random.Generator
) -> pd.api.extensions.ExtensionArray:
    """One evidence column with ``missing`` rows unknown.

    ``nullable`` gives ``boolean``/``string`` dtypes (missing = ``pd.NA``), which Dask keeps as they
    are. ``object`` gives Python values with missing as a random mix of None and NaN, as a frame
    read from JSON or CSV might hold them.
    """
    if dtypes == "nullable":
        out = values.astype(object)
        out[missing] = None
        return pd.array(out, dtype="boolean" if kind == "bool" else "string")
    out = np.array([v.item() if isinstance(v, np.generic) else v for v in values], dtype=object)
    out[missing] = np.where(mix.random(int(missing.sum())) < 0.5, None, math.nan)
    return pd.array(out, dtype=object)


def cohort_partition(
    start: int,
    stop: int,
    *,
    seed: int,
    invalid_rate: float = 0.0,
    dtypes: Dtypes = "nullable",
) -> pd.DataFrame:
    """Generate rows ``start`` to ``stop - 1`` of a synthetic cohort, one patient per row.

    The rows depend only on ``(seed, start, stop)``, so a partition can be regenerated anywhere
    (on a worker, or in a test to build the same cohort in pandas).

    Parameters
    ----------
    start, stop
        Global row numbers; the index is ``RangeIndex(start, stop)`` so that an error names the row
        of the whole cohort, not of the partition.
    seed
        The cohort's seed; each partition draws from its own stream ``SeedSequence(seed,
        spawn_key=(start, 0))``.
    invalid_rate
        Fraction of rows made invalid, cycling through pregnancy in a man, a numb heel with
        ``leg_numbness=False`` and an age of 150 years.
    dtypes
        ``"nullable"`` (``boolean``/``string`` columns, the default) or ``"object"`` (Python
        values, missing as None or NaN). Dask converts object columns to strings by default
        (``dataframe.convert-string``), turning True into ``"True"``; use ``"object"`` only with
        that option off.

    Returns
    -------
    pandas.DataFrame
        ``age`` (float, 18-90), ``sex``, a few risk factors, ``pregnancy``, ``leg_numbness`` and
        every other finding of :func:`numbdx.vocabulary`; most values are missing (unknown).
    """
    n = stop - start
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(start, 0)))
    # A separate stream for the None/NaN mix, so both ``dtypes`` give the same values.
    mix = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(start, 1)))
    names, states, weights = _findings()
    cols: dict[str, pd.api.extensions.ExtensionArray] = {}

    # Context: patients with leg numbness skew older; the draw is complete, and what is reported
    # is masked afterwards so that the hidden truth stays consistent (no pregnancy at 70).
    age = np.clip(np.round(rng.normal(55.0, 17.0, n)), 18, 90)
    female = rng.random(n) < 0.52
    age_missing = rng.random(n) < 0.05
    cols["age"] = pd.array(np.where(age_missing, np.nan, age), dtype="float64")
    cols["sex"] = _column(np.where(female, "female", "male"), rng.random(n) < 0.03, "str", dtypes, mix)

    for name, prevalence, asked in RISK_FACTORS:
        p = np.full(n, prevalence)
        if name in ("diabetes", "high_cholesterol"):
            p = p * np.interp(age, [18, 45, 65, 90], [0.4, 0.8, 1.8, 2.2])
        cols[name] = _column(rng.random(n) < p, rng.random(n) >= asked, "bool", dtypes, mix)
    can_be_pregnant = female & (age <= 45)
    pregnant = can_be_pregnant & (rng.random(n) < PREGNANCY_RATE)
    cols["pregnancy"] = _column(pregnant, ~can_be_pregnant | (rng.random(n) >= PREGNANCY_ASKED), "bool", dtypes, mix)
    # The chief complaint is mostly left to its default (assumed present), sometimes stated.
    cols[CHIEF_COMPLAINT] = _column(np.ones(n, dtype=bool), rng.random(n) >= 0.05, "bool", dtypes, mix)

    # 0-6 findings per row, sampled without replacement with the group weights (Efraimidis-Spirakis:
    # the k smallest of Exp(1)/w are a weighted sample of size k).
    k = rng.choice(len(FINDINGS_PER_ROW), size=n, p=FINDINGS_PER_ROW)
    order = np.argsort(rng.exponential(size=(n, len(names))) / weights, axis=1)
    chosen = np.zeros((n, len(names)), dtype=bool)
    np.put_along_axis(chosen, order, np.arange(len(names)) < k[:, None], axis=1)
    for j, (name, st) in enumerate(zip(names, states)):
        if st is None:
            values = rng.random(n) < P_PRESENT
            cols[name] = _column(values, ~chosen[:, j], "bool", dtypes, mix)
        else:
            values = np.asarray(st, dtype=object)[rng.integers(len(st), size=n)]
            cols[name] = _column(values, ~chosen[:, j], "str", dtypes, mix)

    frame = pd.DataFrame(cols, index=pd.RangeIndex(start, stop))
    if invalid_rate > 0 and n:
        _make_invalid(frame, np.flatnonzero(rng.random(n) < invalid_rate))
    return frame


def _make_invalid(frame: pd.DataFrame, rows: np.ndarray) -> None:
    """Overwrite ``rows`` (positions) with evidence numbdx rejects, cycling through INVALID_KINDS."""
    for label in frame.index[rows]:
        kind = INVALID_KINDS[label % len(INVALID_KINDS)]
        if kind == "pregnant_male":
            frame.loc[label, ["sex", "pregnancy"]] = ["male", True]
        elif kind == "numb_heel_without_numbness":
            frame.loc[label, [CHIEF_COMPLAINT, "numb_heel"]] = [False, True]
        else:
            frame.loc[label, "age"] = 150.0


def invalid_rows(frame: pd.DataFrame) -> pd.Index:
    """Labels of the rows :func:`cohort_partition` made invalid, found from the values alone."""

    def equals(column: str, value: object) -> np.ndarray:
        # via object: the same test for boolean/string and object columns; missing never matches
        return frame[column].astype(object).eq(value).to_numpy(dtype=bool)

    bad = (
        (equals("sex", "male") & equals("pregnancy", True))
        | (equals(CHIEF_COMPLAINT, False) & equals("numb_heel", True))
        | (frame["age"].to_numpy() > 130)
    )
    return frame.index[bad]


def boundaries(rows: int, partitions: int) -> list[int]:
    """Row numbers where the partitions start, plus ``rows``: sizes differ by at most one."""
    partitions = max(1, min(partitions, rows))
    return [rows * i // partitions for i in range(partitions + 1)]


def empty_cohort(dtypes: Dtypes = "nullable") -> pd.DataFrame:
    """A cohort of no rows: the columns and dtypes of every partition (Dask's ``meta``)."""
    return cohort_partition(0, 0, seed=0, dtypes=dtypes)


def cohort_frame(
    rows: int, partitions: int, seed: int, invalid_rate: float = 0.0, dtypes: Dtypes = "nullable"
) -> dd.DataFrame:
    """The cohort as a lazy ``dask.dataframe.DataFrame``, generated partition by partition.

    ``pandas.concat`` of :func:`cohort_partition` over the same :func:`boundaries` gives the same
    rows in one pandas frame.
    """
    import dask.dataframe as dd

    bounds = boundaries(rows, partitions)
    return dd.from_map(
        cohort_partition,
        bounds[:-1],
        bounds[1:],
        seed=seed,
        invalid_rate=invalid_rate,
        dtypes=dtypes,
        meta=empty_cohort(dtypes),
        divisions=(*bounds[:-1], bounds[-1] - 1),  # the index is sorted and known: row numbers
        enforce_metadata=False,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Generate, score and summarise the cohort (see the module docstring)."""
    import dask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="patients in the cohort (default 1,000,000)")
    parser.add_argument("--partitions", type=int, default=None, help=f"default: about {ROWS_PER_PARTITION:,} rows each")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument(
        "--scheduler", choices=("processes", "threads", "sync"), default="processes", help="local Dask scheduler"
    )
    parser.add_argument("--invalid-rate", type=float, default=0.0, help="fraction of invalid rows (scored NaN)")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    cores = os.cpu_count() or 1
    partitions = args.partitions or math.ceil(args.rows / ROWS_PER_PARTITION)
    partitions = len(boundaries(args.rows, partitions)) - 1

    ddf = cohort_frame(args.rows, partitions, args.seed, args.invalid_rate)
    # errors="nan": on a large cohort one bad row should cost that row, not the run. Valid rows can
    # be unscored too: numbdx raises InferenceLimitError when even sampling cannot bound the error
    # (none of this cohort's 1,000,000 rows in the run at ac448c0; with an earlier engine, before
    # sampling answered past the exact limit, 1 of the first 100,000, with 6 positive findings).
    meta = numbdx.infer_frame(empty_cohort(), errors="nan")
    scores = ddf.map_partitions(numbdx.infer_frame, errors="nan", meta=meta)

    # Processes by default: infer_frame holds the GIL for much of its work, so threads overlap only
    # partly. Measured on 2 idle cores, 12,000 rows in 12 partitions (commit 25303f7): sync 566
    # rows/s, threads 737, processes 945, including about 1 s per worker to start and load the model.
    start = time.perf_counter()
    # One compute for both results, so the cohort is generated and scored once.
    sums, counts = dask.compute(scores.sum(), scores.count(), scheduler=args.scheduler)
    wall = time.perf_counter() - start

    scored = int(counts.iloc[0])
    means = sums / counts
    print(f"rows:        {args.rows:,} in {partitions} partitions ({args.scheduler} scheduler, {cores} cores)")
    print(f"rows scored: {scored:,} ({args.rows - scored:,} unscored: NaN)")
    print(f"wall time:   {wall:,.1f} s (generation and scoring)")
    print(f"rate:        {args.rows / wall:,.0f} rows/s")
    print("mean explains, top 5 causes:")
    for name, value in means.nlargest(5).items():
        print(f"  {name:32s} {value:.4f}")


if __name__ == "__main__":
    main()
