"""numbdx against pgmpy variable elimination, pyAgrum lazy propagation and the arithmetic floor.

Run ``python benchmarks/bench_engines.py [--quick]``. Prints two markdown tables and the targets:

* **k-sweep**: evidence with k = 0, 1, 3, 6, 10, 13, 15, 20 positive findings (a fixed list,
  ``_common.POSITIVES``, plus context, three risk factors and three negatives) on sub-models of the
  real model with 2, 4, 6, 8, 12 and 16 causes (``model.submodel``: the real numbers; ``other_cause``
  is added, so ``C`` is one more) and on the full model. A sub-model keeps only the findings its
  causes produce, so its evidence is restricted to its vocabulary; ``kept`` counts the positives left.
* **article cases**: the patients of ``tests/test_article_cases.py`` on the full model.

Per case: numbdx ``infer`` (in process), pgmpy ``VariableElimination`` on ``model.to_pgmpy()`` (one
query per cause, ``show_progress=False``) and pyAgrum ``LazyPropagation`` on the network exported by
pgmpy's ``XMLBIFWriter`` (``.bifxml``: full precision, where pyAgrum's BIF reader rounds to float32),
with the same evidence (``model.pgmpy_evidence``). The reference engines run in worker processes with
a time bound per answer (``--timeout``) and an address-space bound (``--mem-limit-gb``); where they
cannot answer, the table says so. Engines build their network/junction structures once per model,
outside the timing, as numbdx compiles its model once. ``max |diff|`` compares every cause's posterior
with numbdx's. Times are medians [min-max] of the measured runs after one warm-up; ratios divide
medians measured in this run. Everything runs on one core.

The floor is the arithmetic the exact method cannot avoid, ``(T + 1) * C * 4`` multiply-adds for
``T`` Quickscore terms and ``C`` causes (see ``_common.floor_madds``), timed at this machine's numpy
multiply-add rate for arrays of that size (``_common.floor_seconds``). A second, tighter floor adds
what numbdx's method must do per term to sum out the risk-factor layer (forward pass only;
``_common.method_floor_seconds``): the ratio to it shows how much of numbdx's time is arithmetic and
how much is overhead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import _common
from _common import (
    BASE_EVIDENCE,
    K_VALUES,
    POSITIVES,
    SUBMODEL_ORDER,
    SUBMODEL_SIZES,
    Timing,
    article_cases,
    count_positives,
    describe_error,
    floor_seconds,
    fmt_count,
    fmt_ratio,
    fmt_seconds,
    fmt_times,
    k_evidence,
    markdown_table,
    method_floor_seconds,
    quickscore_terms,
    restrict,
    term_count,
    timed,
)
from _reference import ENGINES, LABELS, NOTES, SHORT, RefResult, run_reference

import numbdx

QUICK_SIZES = (2, 8, 16)
TARGET_VE, TARGET_LP, TARGET_FLOOR, TARGET_K20_SECONDS = 100.0, 10.0, 10.0, 0.2


@dataclass
class Row:
    """One case on one model: numbdx, the reference engines and the floor."""

    model: str
    causes: int
    case: str
    k: int | None
    kept: int
    qs_terms: int
    terms: int | None
    numbdx: Timing
    refs: dict[str, RefResult] = field(default_factory=dict)
    floor: float | None = None
    method_floor: float | None = None
    choices: bool = False  # numbdx eliminated it over the findings' choices (method_floor is then that's)

    def ratio(self, engine: str) -> float | None:
        ref = self.refs.get(engine)
        if ref is None or not ref.ok or not self.numbdx.ok:
            return None
        return ref.median / self.numbdx.median

    def floor_ratio(self) -> float | None:
        return self.numbdx.median / self.floor if self.numbdx.ok and self.floor else None

    def method_floor_ratio(self) -> float | None:
        exact = self.numbdx.ok and getattr(self.numbdx.result, "method", "exact") == "exact"
        return self.numbdx.median / self.method_floor if exact and self.method_floor else None

    def max_diff(self) -> float | None:
        if not self.numbdx.ok:
            return None
        d = self.numbdx.result
        diffs = [
            abs(d[cause].posterior - p) for ref in self.refs.values() if ref.ok for cause, p in ref.posteriors.items()
        ]
        return max(diffs) if diffs else None


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure_numbdx(model: numbdx.Model, evidence: dict[str, Any], args: argparse.Namespace) -> Timing:
    """Median time of ``numbdx.infer`` (an ``InferenceLimitError`` or other numbdx error is recorded)."""
    return timed(
        lambda: numbdx.infer(evidence, model=model),
        repeats=args.repeats,
        budget=args.budget,
        min_repeats=3,
        catch=numbdx.NumbdxError,
    )


def measure_work(model: numbdx.Model, evidence: dict[str, Any]) -> tuple[int, int | None, float]:
    """Quickscore terms, the terms numbdx reports, and the floor time (from the Quickscore terms)."""
    qs = quickscore_terms(model, evidence)
    terms, _how = term_count(model, evidence)
    seconds, _rate = floor_seconds(qs, len(model.causes))
    return qs, terms, seconds


def measure_method_floor(model: numbdx.Model, evidence: dict[str, Any], terms: int | None) -> dict[str, Any]:
    """The tighter floor of the method numbdx takes for ``evidence`` (``Row.method_floor`` and
    ``Row.choices``): Quickscore's with the risk-factor layer, or the elimination over the findings'
    choices' forward pass."""
    if _common.by_choices(model, evidence):
        return {"method_floor": _common.choice_floor_seconds(model, evidence), "choices": True}
    return {"method_floor": method_floor_seconds(model, evidence, terms) if terms else None}


def run_references(
    causes: list[str] | None, cases: list[dict[str, Any]], args: argparse.Namespace, *, skip: bool
) -> dict[str, list[RefResult]]:
    out = {}
    for engine in args.engines:
        start = time.perf_counter()
        out[engine] = run_reference(
            engine,
            {"causes": causes},
            cases,
            timeout=args.timeout,
            mem_limit_gb=args.mem_limit_gb,
            repeats=args.ref_repeats,
            min_repeats=args.ref_min_repeats,
            budget=args.ref_budget,
            skip_after_failure=skip,
        )
        _log(f"  {LABELS[engine]}: {len(cases)} cases in {time.perf_counter() - start:.1f} s")
    return out


def sweep(full: numbdx.Model, args: argparse.Namespace) -> list[Row]:
    """The k-sweep on every sub-model and the full model."""
    rows = []
    models: list[tuple[str, list[str] | None]] = [(f"sub{n}", list(SUBMODEL_ORDER[:n])) for n in args.sizes]
    models.append(("full", None))
    for label, causes in models:
        model = full if causes is None else full.submodel(causes)
        _log(f"k-sweep on {label} ({len(model.causes)} causes)")
        cases = []
        for k in args.ks:
            evidence = restrict(model, k_evidence(k))
            cases.append({"label": f"k={k}", "evidence": evidence})
            qs, terms, floor = measure_work(model, evidence)
            rows.append(
                Row(
                    label,
                    len(model.causes),
                    f"k={k}",
                    k,
                    count_positives(model, evidence),
                    qs,
                    terms,
                    measure_numbdx(model, evidence, args),
                    floor=floor,
                    **measure_method_floor(model, evidence, terms),
                )
            )
        refs = run_references(causes, cases, args, skip=args.quick)
        for engine, results in refs.items():
            for row, result in zip(rows[-len(cases) :], results):
                row.refs[engine] = result
    return rows


def articles(full: numbdx.Model, args: argparse.Namespace) -> list[Row]:
    """The article-derived patients on the full model."""
    _log("article cases on the full model")
    rows, cases = [], []
    for name, evidence in article_cases():
        qs, terms, floor = measure_work(full, evidence)
        rows.append(
            Row(
                "full",
                len(full.causes),
                name,
                None,
                count_positives(full, evidence),
                qs,
                terms,
                measure_numbdx(full, evidence, args),
                floor=floor,
                **measure_method_floor(full, evidence, terms),
            )
        )
        cases.append({"label": name, "evidence": evidence})
    n_ref = len(cases) if args.article_ref_cases < 0 else min(args.article_ref_cases, len(cases))
    refs = run_references(None, cases[:n_ref], args, skip=False)
    for engine, results in refs.items():
        for i, row in enumerate(rows):
            row.refs[engine] = results[i] if i < n_ref else RefResult("not run (--quick)")
    return rows


def _cell(ref: RefResult | None) -> str:
    if ref is None:
        return "-"
    if ref.ok and ref.cold:
        return f"{fmt_seconds(ref.times[0])} (1 cold run)"
    return fmt_times(ref.times) if ref.ok else ref.status


def _numbdx_cell(r: Row) -> str:
    t = r.numbdx
    if not t.ok:
        return describe_error(t.error) if t.error else "n/a"
    method = getattr(t.result, "method", "exact")
    # past the exact limit numbdx samples: say so, with its bound (the floor ratio is then not exact work)
    if method != "exact":
        return fmt_times(t.times) + f" (sampled, +-{t.result.error_bound:.3f})"
    return fmt_times(t.times) + (" (choices)" if r.choices else "")


def table(rows: list[Row], engines: list[str], *, sweep_layout: bool) -> str:
    headers = ["model", "C", "k", "kept"] if sweep_layout else ["case", "pos"]
    headers += ["QS terms", "numbdx terms", "numbdx"] + [LABELS[e] for e in engines]
    headers += [f"{SHORT[e]}/numbdx" for e in engines] + ["floor", "numbdx/floor"]
    headers += ["floor incl. risk factors", "numbdx/that", "max |diff|"]
    out = []
    for r in rows:
        cells: list[Any] = [r.model, r.causes, r.k, r.kept] if sweep_layout else [r.case, r.kept]
        cells += [fmt_count(r.qs_terms), fmt_count(r.terms), _numbdx_cell(r)]
        cells += [_cell(r.refs.get(e)) for e in engines]
        cells += [fmt_ratio(r.ratio(e)) for e in engines]
        diff = r.max_diff()
        cells += [
            fmt_seconds(r.floor) if r.floor else "n/a",
            fmt_ratio(r.floor_ratio()),
            fmt_seconds(r.method_floor) if r.method_floor else "n/a",
            fmt_ratio(r.method_floor_ratio()),
            "-" if diff is None else f"{diff:.0e}",
        ]
        out.append(cells)
    return markdown_table(headers, out)


def _failed(ref: RefResult) -> bool:
    """Ran and could not answer (time, memory, error); "not run" and "skipped" are not failures."""
    return not ref.ok and not ref.status.startswith(("not run", "skipped"))


def _summary(values: list[float]) -> str:
    return f"min {fmt_ratio(min(values))}, median {fmt_ratio(statistics.median(values))}, max {fmt_ratio(max(values))}"


def targets(rows: list[Row], engines: list[str], args: argparse.Namespace) -> list[str]:
    """The issue's targets, as figures from this run (printed, never asserted)."""
    lines = []
    small = [r for r in rows if r.kept <= 6 and r.numbdx.ok]
    for engine, target in (("pgmpy", TARGET_VE), ("pyagrum", TARGET_LP)):
        if engine not in engines:
            continue
        label = LABELS[engine]
        for scope, subset in (("all models", small), ("full model", [r for r in small if r.model == "full"])):
            ratios = [r.ratio(engine) for r in subset if r.ratio(engine) is not None]
            unanswered = len([r for r in subset if engine in r.refs and _failed(r.refs[engine])])
            if ratios:
                met = sum(1 for x in ratios if x >= target)
                lines.append(
                    f"- numbdx vs {label}, single cases with <= 6 positives ({scope}): {len(ratios)} answered by "
                    f"{label}, {label}/numbdx {_summary(ratios)}; target >= {target:g}x met in {met} of {len(ratios)}"
                    f" ({unanswered} more not answered by {label})."
                )
            else:
                lines.append(
                    f"- numbdx vs {label}, single cases with <= 6 positives ({scope}): {label} answered none "
                    f"of {unanswered} (time or memory bound)."
                )
    floored = [r for r in rows if r.kept <= 10 and r.floor_ratio() is not None]
    if floored:
        ratios = [r.floor_ratio() for r in floored]
        met = sum(1 for x in ratios if x <= TARGET_FLOOR)
        lines.append(
            f"- numbdx/floor, cases with <= 10 positives that numbdx answered: {_summary(ratios)}; "
            f"target <= {TARGET_FLOOR:g}x met in {met} of {len(ratios)}."
        )
    tighter = [r.method_floor_ratio() for r in rows if r.kept <= 10 and r.method_floor_ratio() is not None]
    if tighter:
        lines.append(
            "- numbdx/(floor incl. the risk-factor layer: the forward arithmetic of numbdx's own method), "
            f"cases with <= 10 positives: {_summary(tighter)}; within 10x in "
            f"{sum(1 for x in tighter if x <= TARGET_FLOOR)} of {len(tighter)}."
        )
    full_sweep = [r for r in rows if r.model == "full" and r.k is not None]
    parts = []
    for r in full_sweep:
        parts.append(f"k={r.k}: {fmt_seconds(r.numbdx.median) if r.numbdx.ok else describe_error(r.numbdx.error)}")
    answered = [
        r
        for r in full_sweep
        if r.numbdx.ok
        and getattr(r.numbdx.result, "method", "exact") == "exact"
        and r.numbdx.median < TARGET_K20_SECONDS
    ]
    best = max((r.k for r in answered), default=None)
    lines.append(
        f"- exact answer for up to 20 positives in under {TARGET_K20_SECONDS:g} s (full model): "
        + "; ".join(parts)
        + f". Largest k answered exactly in time: {best}; target "
        + ("met (every k of the sweep)" if full_sweep and len(answered) == len(full_sweep) else "not met")
        + "."
    )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help="sub-models of 2, 8, 16 causes; fewer repeats; a slow reference answer is timed once (cold); "
        "reference engines on 1 article case; in the k-sweep, stop an engine after its first time-out",
    )
    p.add_argument("--timeout", type=float, default=20.0, help="seconds one reference answer may take (20)")
    p.add_argument("--mem-limit-gb", type=float, default=4.0, help="address-space bound of a reference worker (4)")
    p.add_argument(
        "--engines", default=",".join(ENGINES), help=f"reference engines, comma-separated or '' ({', '.join(ENGINES)})"
    )
    p.add_argument("--sizes", default=None, help="sub-model sizes, causes (2,4,6,8,12,16; --quick 2,8,16)")
    p.add_argument("--ks", default=",".join(map(str, K_VALUES)), help="numbers of positive findings")
    p.add_argument("--repeats", type=int, default=None, help="numbdx runs per case (30; --quick 10)")
    p.add_argument("--article-ref-cases", type=int, default=None, help="article cases for pgmpy/pyAgrum (-1: all)")
    p.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = p.parse_args(argv)
    args.engines = [e for e in args.engines.split(",") if e]
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        p.error(f"unknown engine(s) {sorted(unknown)}; choose from {ENGINES}")
    if args.sizes is None:
        args.sizes = ",".join(map(str, QUICK_SIZES if args.quick else SUBMODEL_SIZES))
    args.sizes = [int(x) for x in args.sizes.split(",") if x]
    args.ks = sorted(int(x) for x in args.ks.split(",") if x)
    args.repeats = args.repeats or (10 if args.quick else 30)
    args.budget = 0.5 if args.quick else 2.0  # seconds of measured numbdx runs per case, at most
    args.ref_repeats, args.ref_min_repeats, args.ref_budget = (3, 0, 1.0) if args.quick else (5, 3, 5.0)
    if args.article_ref_cases is None:
        args.article_ref_cases = 1 if args.quick else -1
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    _common.start("Engines: numbdx, pgmpy VE, pyAgrum LazyPropagation, arithmetic floor", args)
    start = time.perf_counter()
    full = numbdx.load_model()
    numbdx.infer({}, model=full)  # load and compile outside the timings
    _common.warm_kernels(full)
    sweep_rows = sweep(full, args)
    article_rows = articles(full, args)
    rate_small, rate_large = _common.madd_rate(1 << 10), _common.madd_rate(1 << 21)
    print(
        f"Floor rate (numpy float64 multiply-add, this machine): {rate_small / 1e9:.3g} G/s on arrays of 1,024 "
        f"elements, {rate_large / 1e9:.3g} G/s on 2,097,152. Reference bounds: {args.timeout:g} s per answer, "
        f"{args.mem_limit_gb:g} GB address space.\n"
    )
    if args.engines:
        print("Engines: " + "; ".join(f"{LABELS[e]} = {NOTES[e]}" for e in args.engines) + ".")
    print(
        "numbdx answers marked (sampled, +-b) came from importance sampling past the exact limit, with "
        "error bound b; their floor ratio compares them with the exact method's arithmetic. Those marked "
        "(choices) were answered exactly by eliminating the findings' choices as variables (many "
        "positives): the floor (Quickscore's) is not their arithmetic and they can go below it; the floor "
        "incl. risk factors is then that elimination's forward pass in float64. "
        "QS terms: Quickscore terms for the evidence (the floor's T; one for a positive with at most one "
        "cause); numbdx terms: the terms numbdx reports (more where it expands rare findings with three "
        "causes or more without cancellation).\n"
    )
    print(
        f"k-sweep evidence: {BASE_EVIDENCE} plus the first k of {list(POSITIVES)} (as True). "
        f"Sub-model subN: the first N of {list(SUBMODEL_ORDER)}, plus other_cause.\n"
    )
    print("### k positive findings, sub-models and the full model\n")
    print(table(sweep_rows, args.engines, sweep_layout=True))
    print("\n### Article cases, full model\n")
    print(table(article_rows, args.engines, sweep_layout=False))
    print("\n### Targets (figures from this run)\n")
    print("\n".join(targets(sweep_rows + article_rows, args.engines, args)))
    print(f"\n{_common.took('bench_engines', start)}")


if __name__ == "__main__":
    main()
