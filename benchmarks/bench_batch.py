"""Batch throughput: ``numbdx.infer_frame(df)`` against ``numbdx.infer`` row by row, on one core.

Run ``python benchmarks/bench_batch.py [--quick]``. The cohort (:func:`cohort`) is generated with a
seeded :class:`numpy.random.Generator`: age (5% missing), sex (3% missing), each risk factor known
for about a third of the rows (pregnancy only where possible: women of 18-44), and 0-6 findings per
row (a binary finding present with probability 3/4; categorical ones, side included, in a random
state); everything else missing, as NaN. Both paths score the same rows (``errors="nan"``: a row
numbdx refuses is NaN in both; the count is printed). Row by row, the evidence dictionaries are
built before the clock starts, so only ``infer`` is timed. Times are medians [min-max] over the
measured runs after a warm-up on the first rows. The largest absolute difference between the two
paths is printed for ``explains`` (what the timed call returns) and, without ``--quick``,
``posterior`` and ``prior``. A second table times ``infer_frame`` on the first 1/8, 1/4 and 1/2
of the rows, to show whether throughput holds as the frame grows. Where the ``numba`` extra is installed,
``infer_frame`` runs on its compiled kernels, and the same frame is timed again on the numpy
elimination (``numbdx._kernel.use("numpy")``, as ``NUMBDX_KERNEL=numpy``) in the same run, with the
ratio and the largest difference between the two. Last, the method's own arithmetic for
the cohort: the exact-inference terms numbdx reports for its rows (plus one per row for the prior), times
the multiply-adds one term's forward elimination of the risk-factor layer needs (``_common``'s method
floor, shared plan, context observed), at this machine's numpy multiply-add rate on large arrays: the
rows/s a numpy implementation of this method could not beat with the reverse pass left out. It bounds
numpy, not the compiled kernels: numpy's rate on large arrays is bound by memory (about 0.25-0.4
G/s here), which the kernels, working on blocks that stay in cache, exceed (at 7f18f19 infer_frame
reached 1.23 times it, the reverse pass included).
Target: at least 20,000 rows/s on one core.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

import _common
import numpy as np
import pandas as pd
from _common import fmt_ratio, fmt_seconds, fmt_times, markdown_table, timed

import numbdx
from numbdx import _kernel

TARGET_ROWS_PER_S = 20_000
QUANTITIES = ("explains", "posterior", "prior")


def cohort(rows: int, *, seed: int = 0, model: numbdx.Model | None = None) -> pd.DataFrame:
    """A plausible cohort of ``rows`` patients (see the module docstring); missing values are NaN."""
    model = model or numbdx.load_model()
    rng = np.random.default_rng(seed)
    nan = np.nan
    age = rng.integers(18, 91, size=rows).astype(float)
    age[rng.random(rows) < 0.05] = nan
    sex = np.where(rng.random(rows) < 0.5, "female", "male").astype(object)
    sex[rng.random(rows) < 0.03] = nan
    data: dict[str, Any] = {"age": age, "sex": sex}
    for var in model.upper[2:]:
        column = np.full(rows, nan, dtype=object)
        known = rng.random(rows) < 0.35
        value = rng.random(rows) < 0.25
        if var.name == "pregnancy":  # possible only for a woman of childbearing age
            fertile = (sex == "female") & (age >= 18) & (age < 45)
            value &= fertile
            known &= fertile | ~value
        column[known] = value[known]
        data[var.name] = column
    findings = list(model.findings)
    columns = {f.name: np.full(rows, nan, dtype=object) for f in findings}
    counts = rng.integers(0, 7, size=rows)
    for r in range(rows):
        for i in rng.choice(len(findings), size=counts[r], replace=False):
            f = findings[i]
            if f.kind == "binary":
                columns[f.name][r] = bool(rng.random() < 0.75)
            else:
                columns[f.name][r] = f.states[int(rng.integers(len(f.states)))]
    data.update(columns)
    return pd.DataFrame(data)


def evidence_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One evidence dictionary per row, missing values left out (what a caller of ``infer`` does)."""
    out = []
    for record in frame.to_dict(orient="records"):
        out.append({k: v for k, v in record.items() if not (isinstance(v, float) and math.isnan(v))})
    return out


def row_by_row(model: numbdx.Model, rows: list[dict[str, Any]]) -> list[numbdx.Differential | None]:
    """``numbdx.infer`` on every row; ``None`` where numbdx refuses the row."""
    out: list[numbdx.Differential | None] = []
    for evidence in rows:
        try:
            out.append(numbdx.infer(evidence, model=model))
        except numbdx.NumbdxError:
            out.append(None)
    return out


def method_ceiling(model: numbdx.Model, frame: pd.DataFrame) -> tuple[float, float, float]:
    """Terms for the cohort (posterior pass plus one prior term per row), forward multiply-adds per
    term, and the rows/s that arithmetic allows at this machine's numpy rate (see the docstring)."""
    from numbdx import _engine
    from numbdx._frame import encode_frame

    codes, _ = encode_frame(model, frame)
    answer = _engine.infer_codes(model, codes, shared_plans=True, with_prior=False)
    terms = float(answer.terms.sum()) + len(frame)
    known = np.flatnonzero((codes.upper[:, 0] >= 0) & (codes.upper[:, 1] >= 0))[:1]
    plan, _, causes = _engine._factors(model, _engine._compile(model), codes.upper[known], np.float64, shared=True)
    per_term = _common.forward_madds_per_term(plan, causes)
    seconds = terms * per_term / _common.madd_rate(1 << 21)
    return terms, per_term, len(frame) / seconds


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "1,000 rows, fewer repeats, explains compared only")
    p.add_argument("--rows", type=int, default=None, help="rows in the cohort (10,000; --quick 1,000)")
    p.add_argument("--seed", type=int, default=20240601, help="seed of the cohort")
    args = p.parse_args(argv)
    args.rows = args.rows or (1_000 if args.quick else 10_000)
    batch_repeats, single_repeats = (2, 1) if args.quick else (3, 2)
    _common.start("Batch: infer_frame against row-by-row infer", args)
    start = time.perf_counter()
    model = numbdx.load_model()
    frame = cohort(args.rows, seed=args.seed, model=model)
    rows = evidence_rows(frame)
    n_findings = frame[[f.name for f in model.findings]].notna().sum(axis=1)

    warm = frame.iloc[: min(200, len(frame))]

    def frame_times() -> Any:
        numbdx.infer_frame(warm, model=model, errors="nan")
        return timed(
            lambda: numbdx.infer_frame(frame, model=model, errors="nan"),
            repeats=batch_repeats,
            budget=0,
            min_repeats=batch_repeats,
            warmup=False,
        )

    batch = frame_times()
    numpy_batch = None
    if _kernel.active() == "numba":  # the same frame on the numpy elimination, for the kernel's ratio
        with _kernel.use("numpy"):
            numpy_batch = frame_times()
    row_by_row(model, rows[:20])
    single = timed(
        lambda: row_by_row(model, rows), repeats=single_repeats, budget=0, min_repeats=single_repeats, warmup=False
    )

    answers = single.result
    refused_single = sum(a is None for a in answers)
    diffs, refused_batch = {}, 0
    for quantity in QUANTITIES[:1] if args.quick else QUANTITIES:
        frame_out = (
            batch.result
            if quantity == "explains"
            else numbdx.infer_frame(frame, model=model, quantity=quantity, errors="nan")
        )
        refused_batch = int(frame_out.isna().all(axis=1).sum())
        expected = np.array(
            [
                [getattr(a[c], quantity) for c in model.cause_names] if a is not None else [np.nan] * len(model.causes)
                for a in answers
            ]
        )
        got = frame_out.to_numpy()
        same_nan = np.array_equal(np.isnan(got), np.isnan(expected))
        both = ~np.isnan(got) & ~np.isnan(expected)
        diffs[quantity] = (float(np.max(np.abs(got[both] - expected[both]), initial=0.0)), same_nan)

    sizes = sorted({max(1, len(frame) // d) for d in (8, 4, 2)})
    by_size = []
    for size in sizes:  # does throughput hold as the frame grows? one run each
        t0 = time.perf_counter()
        numbdx.infer_frame(frame.iloc[:size], model=model, errors="nan")
        by_size.append((size, time.perf_counter() - t0))

    n = len(frame)
    batch_rate = n / batch.median
    single_rate = n / single.median
    table = markdown_table(
        ["path", "time for the cohort", "rows/s", "vs row by row", "runs"],
        [
            [
                "`infer_frame(df)`",
                fmt_times(batch.times),
                f"{batch_rate:,.0f}",
                fmt_ratio(batch_rate / single_rate),
                len(batch.times),
            ],
            ["`infer` row by row", fmt_times(single.times), f"{single_rate:,.0f}", "1.0x", len(single.times)],
        ],
    )
    if numpy_batch is not None:
        numpy_rate = n / numpy_batch.median
        kernel_diff = float(np.nanmax(np.abs(numpy_batch.result.to_numpy() - batch.result.to_numpy()), initial=0.0))
        same_nan = np.array_equal(numpy_batch.result.isna().to_numpy(), batch.result.isna().to_numpy())
    print(
        f"Cohort: {n:,} rows, {frame.shape[1]} columns, {statistics.mean(n_findings):.2f} findings per row on "
        f"average (0-6); rows numbdx refuses: {refused_batch} in the frame, {refused_single} row by row.\n"
    )
    print(table)
    if numpy_batch is not None:
        print(
            f"\nThe same frame with the numpy elimination (`NUMBDX_KERNEL=numpy`), in the same run: "
            f"{fmt_times(numpy_batch.times)}, {numpy_rate:,.0f} rows/s; the numba kernels are "
            f"{fmt_ratio(batch_rate / numpy_rate)} that. Max |numba - numpy| over explains: {kernel_diff:.1e}"
            + ("" if same_nan else " (they refuse different rows!)")
            + "."
        )
    print("\n`infer_frame` on the first rows of the same cohort (one run each; the last row is the table above):\n")
    print(
        markdown_table(
            ["rows", "time", "rows/s"],
            [[f"{size:,}", fmt_seconds(t), f"{size / t:,.0f}"] for size, t in by_size]
            + [[f"{n:,}", fmt_seconds(batch.median), f"{batch_rate:,.0f}"]],
        )
    )
    print()
    for quantity, (diff, same_nan) in diffs.items():
        print(
            f"- max |infer_frame - infer| for {quantity}: {diff:.1e}"
            + ("" if same_nan else " (the two paths refuse different rows!)")
        )
    terms, per_term, ceiling = method_ceiling(model, frame)
    print(
        f"\nThe method's arithmetic for this cohort: {terms:,.0f} terms ({terms / n:.1f} per row), "
        f"{per_term:,.0f} forward multiply-adds per term; at this machine's numpy rate on large arrays that "
        f"allows a numpy implementation {ceiling:,.0f} rows/s with no reverse pass and no overhead "
        f"(infer_frame on the kernels: {batch_rate / ceiling:.2f} of it)."
    )
    print(
        f"\nThroughput {batch_rate:,.0f} rows/s on one core (target >= {TARGET_ROWS_PER_S:,}: "
        f"{'met' if batch_rate >= TARGET_ROWS_PER_S else 'not met'})."
    )
    print(f"\n{_common.took('bench_batch', start)}")


if __name__ == "__main__":
    main()
