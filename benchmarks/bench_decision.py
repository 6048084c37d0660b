"""Decision layer: ``next_questions`` and ``recommend_tests`` against a naive loop over the engine.

Run ``python benchmarks/bench_decision.py [--quick]``. On the full model, for the k-sweep evidence of
``_common`` with 0, 3 and 6 positive findings (and no evidence at all), it times

* ``numbdx.next_questions(evidence)``: the value of information of every unanswered question
  (findings other than tests, risk factors, context), exact, in batched engine calls;
* ``numbdx.recommend_tests(evidence)``: the same for the twelve diagnostic tests, weighed by cost;

and, computed in the same run, the same values by a naive loop that asks the exact engine once per
(question, answer): ``numbdx.infer`` does not return P(evidence), which the answers' probabilities
need, so the loop calls the engine entry point behind it (``numbdx._engine.infer_exact`` on the
``normalise``\\ d evidence) once per answer, plus once for the evidence itself. ``max |dVOI|`` is the
largest difference between the two (they must agree: both are exact). Times are medians [min-max]
over the measured runs after one warm-up; ratios divide medians taken in the same run. Target:
``next_questions`` under 50 ms for typical evidence (3 positives) on one core.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import _common
import numpy as np
from _common import fmt_ratio, fmt_times, markdown_table, timed

import numbdx
from numbdx._engine import infer_exact
from numbdx._evidence import normalise
from numbdx._voi import next_questions, recommend_tests

TARGET_SECONDS = 0.050
CASES: tuple[tuple[str, int | None], ...] = (("no evidence", None), ("k=0", 0), ("k=3", 3), ("k=6", 6))


def _evidence(k: int | None) -> dict[str, Any]:
    return {} if k is None else _common.k_evidence(k)


def _entropy(q: np.ndarray) -> float:
    q = np.clip(q, 0.0, 1.0)
    inside = (q > 0) & (q < 1)
    p = q[inside]
    return float(-(p * np.log2(p) + (1 - p) * np.log2(1 - p)).sum())


def naive_values(model: numbdx.Model, evidence: dict[str, Any], questions: list[tuple[str, list[Any]]]) -> dict:
    """VOI (entropy, bits) of each ``(name, answer values)`` by one engine call per answer."""
    base = infer_exact(model, normalise(model, evidence))
    p0 = float(base.evidence_probability[0])
    u0 = _entropy(base.explains[0])
    out = {}
    for name, values in questions:
        expected = 0.0
        for value in values:
            try:
                answer = infer_exact(model, normalise(model, {**evidence, name: value}))
            except numbdx.ImpossibleEvidenceError:
                continue  # probability zero
            expected += float(answer.evidence_probability[0]) / p0 * _entropy(answer.explains[0])
        out[name] = u0 - expected
    return out


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "fewer repeats; the naive loop timed once")
    p.add_argument("--repeats", type=int, default=None, help="measured runs of the batched calls (30; --quick 10)")
    args = p.parse_args(argv)
    args.repeats = args.repeats or (10 if args.quick else 30)
    naive_repeats = 1 if args.quick else 3
    _common.start("Decision layer: next_questions and recommend_tests against a naive loop", args)
    start = time.perf_counter()
    model = numbdx.load_model()
    _common.warm_kernels(model)

    rows_q, rows_t = [], []
    for label, k in CASES:
        evidence = _evidence(k)
        positives = _common.count_positives(model, evidence)
        fast = timed(
            lambda evidence=evidence: next_questions(evidence, n=1000, model=model),
            repeats=args.repeats,
            budget=10.0,
            min_repeats=args.repeats,
        )
        result = fast.result
        questions = [(q.name, [a.value for a in q.answers]) for q in result.questions]
        answers = sum(len(values) for _, values in questions)
        naive = timed(
            lambda evidence=evidence, questions=questions: naive_values(model, evidence, questions),
            repeats=naive_repeats,
            budget=0,
            min_repeats=naive_repeats,
            warmup=False,
        )
        diff = max(abs(q.value - naive.result[q.name]) for q in result.questions)
        rows_q.append(
            [
                label,
                positives,
                len(questions),
                answers,
                fmt_times(fast.times),
                fmt_ratio(fast.median / TARGET_SECONDS),
                fmt_times(naive.times),
                fmt_ratio(naive.median / fast.median),
                f"{diff:.1e}",
                "yes" if result.should_stop else "no",
            ]
        )

        tests = timed(
            lambda evidence=evidence: recommend_tests(evidence, model=model),
            repeats=args.repeats,
            budget=10.0,
            min_repeats=args.repeats,
        )
        test_questions = [(t.name, [True, False]) for t in tests.result]
        naive_tests = timed(
            lambda evidence=evidence, qs=test_questions: naive_values(model, evidence, qs),
            repeats=naive_repeats,
            budget=0,
            min_repeats=naive_repeats,
            warmup=False,
        )
        diff_t = max(abs(t.value - naive_tests.result[t.name]) for t in tests.result)
        rows_t.append(
            [
                label,
                positives,
                len(test_questions),
                fmt_times(tests.times),
                fmt_ratio(tests.median / TARGET_SECONDS),
                fmt_times(naive_tests.times),
                fmt_ratio(naive_tests.median / tests.median),
                f"{diff_t:.1e}",
            ]
        )
        print(f"# {label} done", file=sys.stderr, flush=True)

    print("`next_questions(evidence)` over every unanswered question (full model):\n")
    print(
        markdown_table(
            [
                "evidence",
                "positives",
                "questions",
                "answers",
                "next_questions",
                "/ 50 ms target",
                "naive loop",
                "speed-up",
                "max |dVOI|",
                "should stop",
            ],
            rows_q,
        )
    )
    print("\n`recommend_tests(evidence)` over the diagnostic tests (full model):\n")
    print(
        markdown_table(
            [
                "evidence",
                "positives",
                "tests",
                "recommend_tests",
                "/ 50 ms target",
                "naive loop",
                "speed-up",
                "max |dVOI|",
            ],
            rows_t,
        )
    )
    print(
        "\n`/ 50 ms target` is the median over the target (below 1x: within it). The naive loop asks the "
        "exact engine once per (question, answer) and once for the evidence."
    )
    print(f"\n{_common.took('bench_decision', start)}")


if __name__ == "__main__":
    main()
