"""Where exact answers stop: the two walls of exact inference, measured.

Run ``python benchmarks/bench_formulations.py [--quick]``. Nothing is timed against a reference; the
script prints what limits every exact formulation on this model, so the target "exact answers for up
to 20 positive findings in under 0.2 s" can be judged from figures.

1. **Cancellation** (numbdx's formulation: Quickscore terms, the risk-factor layer eliminated per
   term). For the k-sweep evidence of ``bench_engines.py`` on the full model: numbdx's terms (rare
   positives already expanded without cancellation), the cancellation factor ``sum|t| / |sum t|``
   over the terms of P(evidence) (computed in extended precision; past ``1/eps`` of extended precision
   the sum itself is noise and the cell says so), the bits of a float64 result it costs, and whether
   float64 / extended precision can meet the engine's 1e-9 target and 1e-6 limit with the engine's
   own rounding bound ``eps * ops * factor``, and whether double-double from exact inputs (one
   patient on the ``numba`` kernels: ``_engine._exact_inputs``) meets 1e-9 with the engine's bound
   on the answer (``_engine._bounded_in``: ``2**-100`` per operation, two ``np.longdouble``
   roundings, and the rounding of positives expanded in order).
2. **Joint elimination** (no term enumeration: each positive finding gets an auxiliary variable
   eliminated together with the causes and the risk-factor layer). The same evidence, and random sets
   of k positive findings: the largest table and the summed table entries along numbdx's own greedy
   min-fill order, for (a) the signed two-state auxiliary of Diez and Galan (2003), which has the
   same cancellation as Quickscore, and (b) a cancellation-free auxiliary "which cause fired first"
   with one state per cause of the finding (plus the leak). Causes have three states (absent, present,
   present and numbing the leg). A float64 table entry costs at least one multiply-add per neighbour
   per pass; one pass over 10**8 entries is about a second here.
"""

from __future__ import annotations

import math
import sys
import time

import _common
import numpy as np
from _common import k_evidence, markdown_table

import numbdx
from numbdx import _engine
from numbdx._evidence import normalise
from numbdx._kernel import DOUBLE_DOUBLE_EPS


def _cancellation(model: numbdx.Model, k: int, max_terms: float) -> list[str]:
    compiled = _engine._compile(model)
    ev = normalise(model, k_evidence(k))
    codes = _engine.codes_from_evidence(model, [ev])
    _, n_terms, term_key = _engine._plan_groups(compiled, codes)
    terms = float(n_terms[0])
    positives = int((codes.findings >= 1).sum())
    if terms > max_terms:
        return [str(k), str(positives), f"{terms:,.0f}", f"not computed (> {max_terms:,.0f} terms)", "-", "-", "-"]
    start = time.perf_counter()
    total, absolute, _, exact, _ = _engine._sums(model, compiled, codes, np.array([0]), np.longdouble, term_key)
    seconds = time.perf_counter() - start
    ld_eps = float(np.finfo(np.longdouble).eps)
    unit = DOUBLE_DOUBLE_EPS if exact[0] else ld_eps  # how far the sums themselves are to be trusted
    signed, size = float(total[0, 0]), float(absolute[0, 0])
    ops = float(_engine._ops(model, codes.findings[0]))
    if signed <= 0 or size / signed * unit > 0.01:
        noise = [f"> {0.01 / unit:.0e} (noise)", "> 53", "no / no", "no"]
        return [str(k), str(positives), f"{terms:,.0f}", *noise, "-"]
    factor = size / signed
    bound64 = float(np.finfo(np.float64).eps) * ops * factor
    bound_ld = ld_eps * ops * factor
    meets = f"{'yes' if bound64 <= 1e-9 else 'no'} / {'yes' if bound_ld <= 1e-6 else 'no'}"
    if exact[0]:  # the engine's own bound on the answer (_engine._bounded_in)
        merged = _engine._merged_positives(compiled, codes.findings[0])
        ok, _, bound_dd = _engine._bounded_in(total, absolute, ops, np.longdouble, exact, merged)
        meets_dd = "yes" if ok[0] and bound_dd[0] <= 1e-9 else "no"
    else:
        meets_dd = "n/a (no kernels)"
    return [
        str(k),
        str(positives),
        f"{terms:,.0f}",
        f"{factor:.1e}",
        f"{math.log2(factor):.0f}",
        meets,
        meets_dd,
        f"{seconds:.2f} s",
    ]


def _graph(model: numbdx.Model, positives: list[int], first_fired: bool) -> tuple[list[frozenset], dict]:
    """Scopes and cards of the joint elimination for ``positives`` (see the module docstring)."""
    compiled = _engine._compile(model)
    cards: dict = {("u", i): v.card for i, v in enumerate(model.upper)}
    scopes = [frozenset(("u", i) for i in scope) for scope, _ in compiled.prior_scopes]
    for c, (scope, _) in enumerate(compiled.cause_scopes):
        cards["c", c] = 3
        scopes.append(frozenset([("u", i) for i in scope] + [("c", c)]))
    numb = ("f", model.side_index)  # the chief complaint: some cause numbs the leg
    cards[numb] = 2
    scopes += [frozenset([numb, ("c", c)]) for c in model.findings[model.side_index].parents]
    for f in positives:
        parents = model.findings[f].parents
        cards["f", f] = len(parents) + 1 if first_fired else 2
        scopes += [frozenset([("f", f), ("c", c)]) for c in parents]
    return scopes, cards


def _elimination_size(scopes: list[frozenset], cards: dict) -> tuple[float, float]:
    """Largest table and summed table entries along numbdx's greedy min-fill order."""
    variables = frozenset().union(*scopes)
    order = _engine._elimination_order(tuple(scopes), variables)
    neighbours: dict = {v: set() for v in variables}
    for scope in scopes:
        for v in scope:
            neighbours[v] |= scope - {v}
    remaining = set(variables)
    largest = total = 0.0
    for v in order:
        nb = neighbours[v] & remaining
        size = math.prod(float(cards[u]) for u in nb | {v})
        largest, total = max(largest, size), total + size
        for a in nb:
            neighbours[a] |= nb - {a}
        remaining.remove(v)
    return largest, total


def _joint(model: numbdx.Model, ks: list[int], random_sets: int) -> list[list[str]]:
    rng = np.random.default_rng(0)
    binary = [i for i, f in enumerate(model.findings) if f.kind != "side" and f.parents]
    rows = []
    for k in ks:
        ev = normalise(model, k_evidence(k))
        sweep = [i for i, allowed in ev.findings.items() if allowed == frozenset({1}) and i != model.side_index]
        sets = [("k-sweep", sweep)] + [
            (f"random {s + 1}", [int(i) for i in rng.choice(binary, size=k, replace=False)]) for s in range(random_sets)
        ]
        for label, positives in sets:
            cells = [str(k), label]
            for first_fired in (False, True):
                largest, total = _elimination_size(*_graph(model, positives, first_fired))
                cells += [f"{largest:.1e}", f"{total:.1e}"]
            rows.append(cells)
    return rows


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "k up to 14 for the cancellation table; 2 random sets")
    args = p.parse_args(argv)
    _common.start("Exact formulations: cancellation and elimination size, full model", args)
    model = numbdx.load_model()

    ks = [3, 6, 8, 10, 12, 14] if args.quick else [3, 6, 8, 10, 12, 14, 16]
    print("### 1. Cancellation in numbdx's terms (k-sweep evidence)\n")
    print(
        markdown_table(
            [
                "k",
                "positives",
                "numbdx terms",
                "sum|t| / |sum t|",
                "bits lost",
                "float64 <= 1e-9 / ext. <= 1e-6",
                "double-double, exact inputs <= 1e-9",
                "time of the extended sums",
            ],
            (_cancellation(model, k, 2**17 if args.quick else 2**19) for k in ks),
        )
    )
    print(
        "\nThe rounding bound is eps * ops * factor with the engine's ops; float64 eps 2.2e-16, extended "
        f"(x87 long double here) eps {float(np.finfo(np.longdouble).eps):.1e}.\n"
    )
    print("### 2. Joint elimination of the positives with the causes and risk factors\n")
    joint_ks = [6, 10, 15, 20]
    print(
        markdown_table(
            [
                "k",
                "positives",
                "signed aux: largest table",
                "signed aux: entries",
                "first-fired aux: largest table",
                "first-fired aux: entries",
            ],
            _joint(model, joint_ks, 2 if args.quick else 5),
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
