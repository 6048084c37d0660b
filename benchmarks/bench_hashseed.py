"""How much pgmpy's variable elimination time depends on the process's string-hash seed.

Run ``python benchmarks/bench_hashseed.py [--quick]``. pgmpy breaks ties in its greedy elimination
order by the iteration order of sets and dicts of variable names, which follows Python's per-process
string hashing (``PYTHONHASHSEED``, random unless set). The same query can therefore take very
different times in two processes, while repeated runs inside one process agree. This script answers
one case (the first article case, on the full model) with pgmpy ``VariableElimination`` in worker
processes started with ``PYTHONHASHSEED`` = 0, 1, 2, 3 (one answer each: the worker's first, so
``1 cold run``; ``--timeout`` bounds it), and numbdx on the same case in this process for the ratio.
Read it next to ``bench_engines.py``, whose workers run under random seeds.
"""

from __future__ import annotations

import time

import _common
from _common import article_cases, fmt_ratio, fmt_seconds, fmt_times, markdown_table, timed
from _reference import run_reference

import numbdx


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "seeds 1 and 2 only")
    p.add_argument("--seeds", default=None, help="PYTHONHASHSEED values (0,1,2,3; --quick 1,2)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds one answer may take (20)")
    p.add_argument("--mem-limit-gb", type=float, default=4.0, help="address-space bound of a worker (4)")
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in (args.seeds or ("1,2" if args.quick else "0,1,2,3")).split(",") if s]
    _common.start("pgmpy VE and the string-hash seed", args)
    start = time.perf_counter()
    name, evidence = article_cases()[0]
    model = numbdx.load_model()
    ours = timed(lambda: numbdx.infer(evidence, model=model), repeats=30, budget=1.0)
    rows = []
    for seed in args.seeds:
        (ref,) = run_reference(
            "pgmpy",
            {},
            [{"label": name, "evidence": evidence}],
            timeout=args.timeout,
            mem_limit_gb=args.mem_limit_gb,
            repeats=0,
            min_repeats=0,
            budget=0.0,
            env={"PYTHONHASHSEED": str(seed)},
        )
        ok = ref.ok
        diff = max((abs(ours.result[c].posterior - p) for c, p in ref.posteriors.items()), default=None)
        rows.append(
            [
                seed,
                f"{fmt_seconds(ref.times[0])} (1 cold run)" if ok else ref.status,
                fmt_ratio(ref.times[0] / ours.median if ok else None),
                "-" if diff is None else f"{diff:.0e}",
            ]
        )
    print(f"Case `{name}` on the full model; numbdx: {fmt_times(ours.times)}.\n")
    print(markdown_table(["PYTHONHASHSEED", "pgmpy VE", "VE/numbdx", "max |diff|"], rows))
    print(f"\n{_common.took('bench_hashseed', start)}")


if __name__ == "__main__":
    main()
