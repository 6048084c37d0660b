"""The benchmark scripts reach into numbdx's private functions (the floors read the engine's plans,
``bench_formulations`` its sums): they must keep working as those change. ``bench_formulations``
raised ``ValueError`` for a session after ``_engine._sums`` gained a return value, and the floors
print ``-`` (they return None) when the internals they read change. One small call each; the
benchmarks themselves never run in the suite."""

from __future__ import annotations

import pytest

import numbdx

from .conftest import benchmark_module


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("_common"), benchmark_module("bench_formulations")


def test_the_floors_read_the_engines_plans(bench):
    common, _ = bench
    model = numbdx.load_model()
    few, many = common.k_evidence(6), common.k_evidence(20)
    assert common.by_choices(model, few) is False and common.by_choices(model, many) is True
    terms = common.quickscore_terms(model, few)
    assert terms > 1
    for floor in (common.method_floor_seconds(model, few, terms), common.choice_floor_seconds(model, many)):
        assert floor is not None and 0 < floor < 1


def test_the_cancellation_table_computes_its_rows(bench):
    _, formulations = bench
    model = numbdx.load_model()
    for k in (3, 6):
        row = formulations._cancellation(model, k, 2**10)
        assert len(row) == 8 and row[0] == str(k)
        assert float(row[3]) >= 1  # sum|t| / |sum t|, a number rather than "not computed"
