"""The optional compiled kernel (`fast` extra): one patient's ``infer`` with ``NUMBDX_KERNEL=numba``
against the numpy path and pyAgrum LazyPropagation, on the full model, in one run.

Run ``python benchmarks/bench_kernel.py [--quick]``. The k sweep of ``bench_engines.py`` (full model,
k = 0, 1, 3, 6, 10 positives plus negatives and risk factors). numbdx is timed in this process with the
kernel switched by the environment variable between calls (after a warm-up that compiles it or loads
its cache); pyAgrum (the causes as targets) in a worker process, as in ``bench_engines.py``. Also
printed: the largest difference between the kernel's and the numpy path's posteriors, and the cost of
importing numba (a fresh process), which the kernel adds to a cold start. Targets: >= 10x faster than
pyAgrum for <= 6 positives.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import _common
from _common import K_VALUES, fmt_ratio, fmt_times, k_evidence, markdown_table, timed
from _reference import run_reference

import numbdx
from numbdx import _kernel

TARGET_PYAGRUM = 10.0


def _infer(evidence: dict, mode: str) -> numbdx.Differential:
    os.environ[_kernel.ENV] = mode
    return numbdx.infer(evidence)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = p.parse_args(argv)
    if not args.all_cores:
        _common.pin_to_one_core()
    _common.print_header("Compiled kernel: numba against numpy and pyAgrum, one patient, full model", args)
    if not _kernel.available():
        print("numba is not installed (pip install 'numbdx[fast]'): nothing to measure.")
        return
    start = time.perf_counter()
    repeats = 5 if args.quick else 20
    ks = [k for k in K_VALUES if k <= 10]
    cases = [{"evidence": k_evidence(k)} for k in ks]
    pyagrum = run_reference(
        "pyagrum", {}, cases, timeout=20.0, mem_limit_gb=4.0, repeats=repeats, min_repeats=3, budget=5.0
    )
    rows = []
    for k, case, ref in zip(ks, cases, pyagrum):
        ev = case["evidence"]
        plain = timed(lambda ev=ev: _infer(ev, ""), repeats=repeats, budget=5.0)
        compiled = timed(lambda ev=ev: _infer(ev, "numba"), repeats=repeats, budget=5.0)
        a, b = plain.result, compiled.result
        diff = max(
            max(abs(a[c].posterior - b[c].posterior), abs(a[c].explains - b[c].explains)) for c in a.posteriors()
        )
        rows.append(
            [
                k,
                fmt_times(plain.times),
                fmt_times(compiled.times),
                fmt_ratio(plain.median / compiled.median),
                fmt_times(ref.times) if ref.ok else ref.status,
                fmt_ratio(ref.median / plain.median) if ref.ok else "-",
                fmt_ratio(ref.median / compiled.median) if ref.ok else "-",
                f"{diff:.0e}",
            ]
        )
    os.environ.pop(_kernel.ENV, None)
    print(
        markdown_table(
            ["k", "numpy path", "numba kernel", "numpy/numba", "pyAgrum LP", "LP/numpy", "LP/numba", "max |diff|"],
            rows,
        )
    )
    fresh = [sys.executable, "-c", "import numba"]
    subprocess.run(fresh, check=True)  # warm the file cache
    times = []
    for _ in range(3 if args.quick else 5):
        t0 = time.perf_counter()
        subprocess.run(fresh, check=True)
        times.append(time.perf_counter() - t0)
    print(f"\n`python -c 'import numba'`: {fmt_times(times)} (added to a cold start that uses the kernel).")
    print(f"Target: >= {TARGET_PYAGRUM:g}x faster than pyAgrum for <= 6 positives.")
    print(f"\nbench_kernel took {time.perf_counter() - start:.0f} s.")


if __name__ == "__main__":
    main()
