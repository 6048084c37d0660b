"""How numbdx's cost grows with the size of the model and with the number of positive findings.

Run ``python benchmarks/bench_scaling.py [--quick]``. Models: the real model copied (1x) and scaled
2x, 5x and 10x in causes and binary findings by ``_synthetic.scaled_knowledge_base`` (seeded; built
with ``numbdx.Model(kb)``). Two ways to give synthetic causes their risk factors:

* ``template`` (default): a synthetic cause has the risk factors of the real cause it is modelled on,
  so the risk-factor layer keeps the real model's structure and only the number of causes grows;
* ``drawn`` (not with ``--quick``): as many risk factors as a real cause has, drawn by how often the
  real causes use them, which adds combinations and so a denser risk-factor layer to sum out.

Evidence: the k-sweep of ``bench_engines`` (``_common.k_evidence``) for k = 0, 1, 3, 6, 10. It
names real findings only, whose parents the synthetic causes leave alone, so the Quickscore term count
is the same at every scale and the sweep isolates the cost of model size. Each (variant, scale) runs
in a worker process with a time bound per answer (``--timeout``); a model that cannot answer in time
is reported as such and its larger k skipped. Each synthetic model is validated: numbdx answers it,
every posterior is a probability, and the 1x copy gives exactly the real model's answers.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from typing import Any

import _common
from _common import (
    floor_seconds,
    fmt_ratio,
    fmt_seconds,
    fmt_times,
    k_evidence,
    markdown_table,
    quickscore_terms,
)
from _reference import RefResult, run_reference
from _synthetic import profile, scaled_knowledge_base

import numbdx

FACTORS = (1, 2, 5, 10)
KS = (0, 1, 3, 6, 10)


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _cell(ref: RefResult) -> str:
    if ref.ok and ref.cold:
        return f"{fmt_seconds(ref.times[0])} (1 cold run)"
    return fmt_times(ref.times) if ref.ok else ref.status


def check_copy(real: numbdx.Model, seed: int) -> float:
    """Largest difference between the real model and its 1x synthetic copy, over the k-sweep."""
    copy = numbdx.Model(scaled_knowledge_base(real.knowledge, 1, seed=seed))
    worst = 0.0
    for k in KS:
        try:
            a, b = numbdx.infer(k_evidence(k), model=real), numbdx.infer(k_evidence(k), model=copy)
        except numbdx.NumbdxError:
            continue
        worst = max(worst, *(abs(a[c].posterior - b[c].posterior) for c in real.cause_names))
    return worst


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "the template variant only; fewer repeats")
    p.add_argument("--factors", default=",".join(map(str, FACTORS)), help="scale factors (1,2,5,10)")
    p.add_argument("--ks", default=",".join(map(str, KS)), help="numbers of positive findings (0,1,3,6,10)")
    p.add_argument("--variants", default=None, help="template,drawn (--quick: template)")
    p.add_argument("--seed", type=int, default=20240601, help="seed of the synthetic models")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds one answer may take (20)")
    p.add_argument("--mem-limit-gb", type=float, default=8.0, help="address-space bound of a worker (8)")
    args = p.parse_args(argv)
    args.factors = [int(x) for x in args.factors.split(",") if x]
    args.ks = sorted(int(x) for x in args.ks.split(",") if x)
    args.variants = (args.variants or ("template" if args.quick else "template,drawn")).split(",")
    repeats, min_repeats, budget = (5, 0, 1.0) if args.quick else (20, 3, 3.0)
    _common.start("Scaling: numbdx on synthetic models 1x-10x the real one", args)
    start = time.perf_counter()

    real = numbdx.load_model()
    _common.warm_kernels(real)
    copy_diff = check_copy(real, args.seed)
    profiles, results, terms = [], {}, {}
    for variant in args.variants:
        for factor in args.factors:
            spec = {"factor": factor, "seed": args.seed + factor, "or_factors": variant}
            t0 = time.perf_counter()
            model = numbdx.Model(scaled_knowledge_base(real.knowledge, **spec))
            build = time.perf_counter() - t0
            cases = [{"label": f"k={k}", "evidence": k_evidence(k)} for k in args.ks]
            _log(f"{variant} {factor}x: {len(model.causes)} causes")
            out = run_reference(
                "numbdx",
                {"synthetic": spec},
                cases,
                timeout=args.timeout,
                mem_limit_gb=args.mem_limit_gb,
                repeats=repeats,
                min_repeats=min_repeats,
                budget=budget,
                skip_after_failure=True,
            )
            for k, ref in zip(args.ks, out):
                results[variant, factor, k] = ref
                terms[variant, factor, k] = (quickscore_terms(model, k_evidence(k)), len(model.causes))
            answered = [r for r in out if r.ok]
            valid = all(math.isfinite(v) and 0.0 <= v <= 1.0 for r in answered for v in r.posteriors.values()) and all(
                len(r.posteriors) == len(model.causes) for r in answered
            )
            profiles.append((variant, factor, profile(model.knowledge), build, len(answered), valid))

    print("### Models and validation\n")
    rows = []
    for variant, factor, prof, build, answered, valid in profiles:
        rows.append(
            [
                variant,
                f"{factor}x",
                prof["causes"],
                prof["binary findings"],
                prof["links"],
                f"{prof['parents per binary finding']:.2f}",
                prof["max parents"],
                f"{prof['binary links per cause']:.2f}",
                f"{prof['odds ratios per cause']:.2f}",
                fmt_seconds(build),
                f"{answered} of {len(args.ks)}",
                "yes" if valid and answered else "no",
            ]
        )
    print(
        markdown_table(
            [
                "variant",
                "scale",
                "causes",
                "binary findings",
                "links",
                "parents/finding",
                "max parents",
                "links/cause",
                "ORs/cause",
                "build",
                "k answered",
                "posteriors in [0, 1]",
            ],
            rows,
        )
    )
    print(f"\nThe 1x copy against the real model: largest posterior difference {copy_diff:.1e} over the k-sweep.\n")

    print("### Time per answer\n")
    rows = []
    for variant in args.variants:
        for factor in args.factors:
            for k in args.ks:
                ref = results[variant, factor, k]
                qs, n_causes = terms[variant, factor, k]
                floor, _ = floor_seconds(qs, n_causes)
                base = results.get((variant, args.factors[0], k))
                growth = ref.median / base.median if ref.ok and base is not None and base.ok else None
                rows.append(
                    [
                        variant,
                        f"{factor}x",
                        n_causes,
                        k,
                        f"{qs:,}",
                        _cell(ref),
                        fmt_ratio(growth),
                        fmt_seconds(floor),
                        fmt_ratio(ref.median / floor if ref.ok else None),
                    ]
                )
    headers = ["variant", "scale", "C", "k", "QS terms", "numbdx", f"vs {args.factors[0]}x", "floor", "numbdx/floor"]
    print(markdown_table(headers, rows))

    print("\n### Median time by scale (growth with model size and with k)\n")
    for variant in args.variants:
        rows = []
        for k in args.ks:
            cells: list[Any] = [variant, k]
            medians = []
            for factor in args.factors:
                ref = results[variant, factor, k]
                cells.append(fmt_seconds(ref.median) if ref.ok else ref.status)
                medians.append(ref.median if ref.ok else None)
            first, last = medians[0], medians[-1]
            cells.append(fmt_ratio(last / first if first and last else None))
            rows.append(cells)
        span = f"{args.factors[-1]}x/{args.factors[0]}x"
        print(markdown_table(["variant", "k", *(f"{f}x" for f in args.factors), span], rows))
        print()
    worst = [statistics.median(r.times) for r in results.values() if r.ok]
    print(f"Slowest answer measured: {fmt_seconds(max(worst)) if worst else 'n/a'}.")
    print(f"\n{_common.took('bench_scaling', start)}")


if __name__ == "__main__":
    main()
