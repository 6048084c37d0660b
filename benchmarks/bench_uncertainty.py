"""Parameter uncertainty: ``numbdx.uncertainty`` against rebuilding the model for each parameter draw.

Run ``python benchmarks/bench_uncertainty.py [--quick]``. For each patient, times (median [min-max]
over the runs, after a warm-up) the 1,000 draws' intervals alone (``_score`` over the draws: the part
the target is about), the tornado (every number at either end of its range), the rank-flip search, and
the whole ``uncertainty()`` call. The rank-flip column searches every number (an upper bound);
``uncertainty()`` itself searches only the numbers that change some probability at an end of their
range. The reference, measured in the same run, is the straightforward way:
write each draw's numbers into the knowledge base, build a ``Model`` and call ``numbdx.infer``; it is
timed on ``--reference-draws`` draws and scaled to 1,000. The largest difference between the two on
those draws is printed (it must be rounding). Target: intervals from 1,000 draws in under 1 s.
"""

# ruff: noqa: B023 (each lambda is timed within its own loop iteration)
from __future__ import annotations

import dataclasses
import time
from typing import Any

import _common
import numpy as np
from _common import fmt_ratio, fmt_seconds, fmt_times, markdown_table, timed

import numbdx
from numbdx import _engine as eng
from numbdx._evidence import normalise
from numbdx._model import Model
from numbdx._priors import Number
from numbdx._uncertainty import _flip, _parameters, _score

TARGET_SECONDS = 1.0
PATIENTS = {
    "claudication (3 positives)": {
        "age": 67,
        "sex": "male",
        "smoking": True,
        "pain_worse_walking": True,
        "tingling": True,
        "swelling": False,
    },
    "heel (2 positives)": {"age": 45, "sex": "female", "numb_heel": True, "pain_on_heel_step": True},
    "stroke signs (3 positives)": {"age": 72, "speech_disturbance": True, "one_sided_paralysis": True},
    "six positives": {
        "age": 40,
        "tingling": True,
        "back_pain": True,
        "numb_toes": True,
        "weakness": True,
        "burning": True,
        "aching_pain": True,
    },
}


def _substitute(obj: Any, values: dict[int, float]) -> Any:
    if isinstance(obj, Number):
        return dataclasses.replace(obj, value=values[id(obj)]) if id(obj) in values else obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(
            obj, **{f.name: _substitute(getattr(obj, f.name), values) for f in dataclasses.fields(obj)}
        )
    if isinstance(obj, tuple):
        return tuple(_substitute(x, values) for x in obj)
    return obj


def reference(model: Model, evidence: dict, theta: np.ndarray) -> np.ndarray:
    """Rebuild the model for every draw and infer: ``(S, C)`` explains."""
    params = _parameters(model)
    out = []
    for row in theta:
        row = row.copy()
        for group in (params.age, params.sex):
            row[group] = row[group] / row[group].sum()
        values = {id(p.number): float(v) for p, v in zip(params.params, row)}
        rebuilt = Model(_substitute(model.knowledge, values))
        d = numbdx.infer(evidence, model=rebuilt)
        out.append([d[c].explains for c in model.cause_names])
    return np.array(out)


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "fewer runs and reference draws")
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--reference-draws", type=int, default=None, help="draws timed for the reference (20; --quick 5)")
    args = p.parse_args(argv)
    args.reference_draws = args.reference_draws or (5 if args.quick else 20)
    _common.start("Parameter uncertainty: batched draws against a model rebuilt per draw", args)
    start = time.perf_counter()
    model = numbdx.load_model()
    _common.warm_kernels(model)
    params = _parameters(model)
    repeats = 3 if args.quick else 7
    rows = []
    for name, evidence in PATIENTS.items():
        codes = eng.codes_from_evidence(model, [normalise(model, evidence)])
        theta = params.sample(args.draws, np.random.default_rng(0))
        n_causes = len(model.causes)
        intervals = timed(lambda: _score(model, codes, theta, params), repeats=repeats, budget=20)
        tornado_theta = np.repeat(params.value[None], 2 * len(params.params), axis=0)
        tornado = timed(lambda: _score(model, codes, tornado_theta, params), repeats=repeats, budget=20)
        top = int(np.argmax(intervals.result[0, n_causes:]))
        movable = np.flatnonzero(params.high > params.low)  # the bench searches all: an upper bound
        flip = timed(lambda: _flip(model, codes, params, movable, top, slice(n_causes, None)), repeats=3, budget=30)
        whole = timed(lambda: numbdx.uncertainty(evidence, n_samples=args.draws), repeats=3, budget=30)
        small = theta[: args.reference_draws]
        ref = timed(lambda: reference(model, evidence, small), repeats=1, budget=60, min_repeats=1)
        ref_per_1000 = ref.median / len(small) * args.draws
        ours = _score(model, codes, small, params)[:, n_causes:]
        diff = float(np.abs(ours - ref.result).max())
        rows.append(
            [
                name,
                fmt_times(intervals.times),
                fmt_ratio(intervals.median / TARGET_SECONDS),
                fmt_times(tornado.times),
                fmt_times(flip.times),
                fmt_times(whole.times),
                fmt_seconds(ref_per_1000),
                fmt_ratio(ref_per_1000 / intervals.median),
                f"{diff:.1e}",
            ]
        )
    print(
        markdown_table(
            [
                "patient",
                f"intervals, {args.draws} draws",
                "vs 1 s target",
                f"tornado ({2 * len(params.params)} rows)",
                "rank-flip search",
                "whole uncertainty()",
                f"reference, {args.draws} draws (scaled)",
                "reference / numbdx",
                "max |diff|",
            ],
            rows,
        )
    )
    print(f"\n{len(params.params)} numbers; {_common.took('bench_uncertainty', start)}")


if __name__ == "__main__":
    main()
