"""Past the exact limit: importance sampling against the exact answer, where both exist.

Run ``python benchmarks/bench_sampling.py [--quick]``. Random patients (seeded): an age, a sex and k
random binary findings present, k = 5-9 (where exact inference still answers, so the sampled answer
can be checked). Each patient is answered with ``method="exact"`` and ``method="sampling"``; the
table gives, per k, how many cases, the largest and median ratio of the sampled answer's actual error
(largest over every cause's posterior and ``explains``) to the error bound it reported, how many
errors exceeded their bound, and the times of both methods (medians [min-max], one run each). A case
the exact engine refuses is skipped, and counted.
"""

from __future__ import annotations

import statistics
import time

import _common
import numpy as np
from _common import fmt_times, markdown_table

import numbdx


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "4 cases per k instead of 8")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    _common.start("Importance sampling against exact answers", args)
    start = time.perf_counter()
    model = numbdx.load_model()
    _common.warm_kernels(model)
    rng = np.random.default_rng(args.seed)
    binary = [f.name for f in model.findings if f.kind == "binary"]
    per_k = 4 if args.quick else 8
    rows, all_ratios, skipped = [], [], 0
    numbdx.infer({"age": 40, "numb_toes": True}, model=model, method="sampling")  # warm-up
    for k in range(5, 10):
        ratios, exact_times, sampled_times = [], [], []
        while len(ratios) < per_k:
            evidence = {"age": int(rng.integers(20, 85)), "sex": str(rng.choice(["female", "male"]))}
            evidence.update({str(name): True for name in rng.choice(binary, size=k, replace=False)})
            t0 = time.perf_counter()
            try:
                exact = numbdx.infer(evidence, model=model, method="exact")
            except numbdx.NumbdxError:
                skipped += 1
                continue
            t1 = time.perf_counter()
            sampled = numbdx.infer(evidence, model=model, method="sampling")
            t2 = time.perf_counter()
            error = max(
                max(abs(exact[c].posterior - sampled[c].posterior), abs(exact[c].explains - sampled[c].explains))
                for c in model.cause_names
            )
            ratios.append(error / sampled.error_bound)
            exact_times.append(t1 - t0)
            sampled_times.append(t2 - t1)
        all_ratios += ratios
        rows.append(
            [
                k,
                len(ratios),
                f"{max(ratios):.2f}",
                f"{statistics.median(ratios):.2f}",
                sum(r > 1 for r in ratios),
                fmt_times(sampled_times),
                fmt_times(exact_times),
            ]
        )
    print(
        markdown_table(
            ["k", "cases", "max error / bound", "median error / bound", "errors over bound", "sampling", "exact"],
            rows,
        )
    )
    print(
        f"\nAll {len(all_ratios)} cases: largest error {max(all_ratios):.2f} of its bound, median "
        f"{statistics.median(all_ratios):.2f}, {sum(r > 1 for r in all_ratios)} over it; "
        f"{skipped} drawn cases refused by the exact engine (skipped)."
    )
    print(f"\n{_common.took('bench_sampling', start)}")


if __name__ == "__main__":
    main()
