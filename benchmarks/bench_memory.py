"""Peak memory of numbdx (single answers, a 10,000-row frame) and of pgmpy / pyAgrum on a sub-model.

Run ``python benchmarks/bench_memory.py [--quick]``. Each scenario runs in a fresh process
(``bench_memory.py --child NAME``), ``--runs`` times. In the child: imports, model and input are
prepared first (numbdx compiles its model by answering an empty query; pgmpy and pyAgrum build
their network and engine); then the measured call, the first with its evidence, runs under
:mod:`tracemalloc`. Reported per scenario (median
[min-max] over the runs; the infer_frame scenario runs ``--frame-runs`` times, once by default,
because tracemalloc slows it to minutes):

* **peak RSS**: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end: the whole process,
  interpreter and imports included;
* **RSS growth**: that peak minus ``ru_maxrss`` before the call (0 when the call stays under the
  peak the preparation reached);
* **tracemalloc peak**: the largest Python-tracked allocation during the call (numpy arrays
  included; pyAgrum's C++ allocations are invisible to it, so its figure is a lower bound).

The sub-model scenarios (numbdx, pgmpy VE, pyAgrum LazyPropagation with the causes as targets) use
the first 4 causes of ``_common.SUBMODEL_ORDER`` and the k = 3 evidence.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common
from _common import SUBMODEL_ORDER, describe_error, k_evidence, markdown_table, restrict

SUBMODEL = list(SUBMODEL_ORDER[:4])
ROWS = 10_000
SCENARIOS = {
    "baseline": "import numbdx, load the model; no call",
    "numbdx k=0": "numbdx.infer, full model, k = 0",
    "numbdx k=6": "numbdx.infer, full model, k = 6",
    "numbdx k=10": "numbdx.infer, full model, k = 10",
    "infer_frame": "numbdx.infer_frame on a generated cohort (bench_batch.cohort)",
    "numbdx sub4 k=3": "numbdx.infer, 4-cause sub-model, k = 3",
    "pgmpy sub4 k=3": "pgmpy VariableElimination, every cause, same sub-model and evidence",
    "pyAgrum sub4 k=3": "pyAgrum LazyPropagation (XMLBIF export), every cause, same sub-model and evidence",
}


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _prepare(name: str, rows: int) -> Callable[[], Any]:
    """Everything but the measured call: imports, model, input. Returns the call."""
    import numbdx

    model = numbdx.load_model()
    numbdx.infer({}, model=model)  # compile outside the measurement
    if name == "baseline":
        return lambda: None
    if name.startswith("numbdx k="):
        evidence = k_evidence(int(name.split("=")[1]))
        return lambda: numbdx.infer(evidence, model=model)
    if name == "infer_frame":
        from bench_batch import cohort

        frame = cohort(rows, seed=1)
        return lambda: numbdx.infer_frame(frame, model=model, errors="nan")
    sub = model.submodel(SUBMODEL)
    evidence = restrict(sub, k_evidence(3))
    if name.startswith("numbdx"):
        numbdx.infer({}, model=sub)  # compile the sub-model
        return lambda: numbdx.infer(evidence, model=sub)
    from _reference import _pgmpy_engine, _pyagrum_engine

    engine = _pgmpy_engine(sub) if name.startswith("pgmpy") else _pyagrum_engine(sub)
    pgmpy_evidence = sub.pgmpy_evidence(evidence)
    return lambda: engine(pgmpy_evidence)


def child(name: str, rows: int) -> None:
    """Measure one scenario in this (fresh) process and print one JSON line."""
    call = _prepare(name, rows)
    before = _maxrss_mb()
    tracemalloc.start()
    status = "ok"
    start = time.perf_counter()
    try:
        call()
    except Exception as exc:  # record it: an InferenceLimitError is a result, not a crash
        status = describe_error(exc)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = _maxrss_mb()
    print(json.dumps({"status": status, "rss": after, "growth": after - before, "traced": peak / 2**20, "s": seconds}))


def _fmt(values: list[float]) -> str:
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.2f}"
    return f"{med:.2f} [{min(values):.2f}-{max(values):.2f}]"


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "2 runs per scenario instead of 3; a 1,000-row frame")
    p.add_argument("--runs", type=int, default=None, help="fresh processes per scenario (3; --quick 2)")
    p.add_argument(
        "--frame-runs", type=int, default=1, help="runs of the infer_frame scenario (1: minutes under tracemalloc)"
    )
    p.add_argument("--rows", type=int, default=None, help=f"rows of the infer_frame cohort ({ROWS:,}; --quick 1,000)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.rows or ROWS)
        return
    args.runs = args.runs or (2 if args.quick else 3)
    args.rows = args.rows or (1_000 if args.quick else ROWS)
    _common.start("Memory: peak RSS and tracemalloc, fresh process per scenario", args)
    start = time.perf_counter()
    here = Path(__file__).resolve()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in SCENARIOS}
    for run in range(max(args.runs, args.frame_runs)):
        for name in SCENARIOS:
            if run >= (args.frame_runs if name == "infer_frame" else args.runs):
                continue
            done = subprocess.run(
                [sys.executable, str(here), "--child", name, "--rows", str(args.rows)],
                capture_output=True,
                text=True,
                cwd=str(here.parent),
            )
            if done.returncode != 0:
                tail = (done.stderr.strip().splitlines() or ["?"])[-1]
                results[name].append({"status": f"error: {tail[:60]}"})
                continue
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    rows = []
    for name, runs in results.items():
        ok = [r for r in runs if r["status"] == "ok"]
        label = f"{name} ({args.rows:,} rows)" if name == "infer_frame" else name
        if not ok:
            rows.append([label, SCENARIOS[name], runs[0]["status"], "-", "-", "-", len(runs)])
            continue
        rows.append(
            [
                label,
                SCENARIOS[name],
                _fmt([r["rss"] for r in ok]),
                _fmt([r["growth"] for r in ok]),
                _fmt([r["traced"] for r in ok]),
                _common.fmt_times([r["s"] for r in ok]),
                len(ok),
            ]
        )
    headers = ["scenario", "what", "peak RSS (MB)", "RSS growth (MB)", "tracemalloc peak (MB)", "call time", "runs"]
    print(markdown_table(headers, rows))
    print("\n(call time is under tracemalloc, which slows Python allocation: not a speed figure.)")
    print(f"\n{_common.took('bench_memory', start)}")


if __name__ == "__main__":
    main()
