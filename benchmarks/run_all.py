"""Run every benchmark script in turn and print their tables: ``python benchmarks/run_all.py [--quick]``.

Each script runs in its own process, as it would alone (``python benchmarks/bench_*.py``), with the
same ``--quick`` flag; its tables go to stdout, its progress lines to stderr. ``--output FILE`` also
writes the combined tables to ``FILE`` (markdown, ready to paste into ``benchmarks/README.md``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import _common

SCRIPTS = (
    "bench_engines",
    "bench_hashseed",
    "bench_scaling",
    "bench_coldstart",
    "bench_memory",
    "bench_batch",
    "bench_decision",
    "bench_uncertainty",
    "bench_service",
    "bench_formulations",
    "bench_sampling",
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="pass --quick to every script (about 5 minutes)")
    p.add_argument("--only", default=",".join(SCRIPTS), help="scripts to run, comma-separated")
    p.add_argument("--output", type=Path, help="also write the combined output to this file")
    args = p.parse_args(argv)
    here = Path(__file__).resolve().parent
    chunks, timings, failed = [], [], []
    start = time.perf_counter()
    for name in args.only.split(","):
        t0 = time.perf_counter()
        command = [sys.executable, str(here / f"{name}.py"), *(["--quick"] if args.quick else [])]
        print(f"# {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(command))}", file=sys.stderr, flush=True)
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, cwd=str(here))
        print(done.stdout, flush=True)
        chunks.append(done.stdout)
        timings.append([name, f"{time.perf_counter() - t0:.0f} s", "ok" if done.returncode == 0 else "FAILED"])
        if done.returncode != 0:
            failed.append(name)
    summary = _common.markdown_table(["script", "wall time", "status"], timings)
    summary += f"\n\nrun_all{' --quick' if args.quick else ''} took {time.perf_counter() - start:.0f} s."
    print(summary)
    if args.output:
        args.output.write_text("\n\n".join([*chunks, summary]) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
