"""The one module that talks to pgmpy: the model as a ``DiscreteBayesianNetwork``, and evidence for it.

pgmpy traps this module stays clear of: ``TabularCPD`` columns follow the evidence order with the last
parent varying fastest (``itertools.product`` order); state names are always passed explicitly, so a
state is never read as an integer index; binary variables use the strings ``"True"``/``"False"`` in that
order, as pgmpy's ``NoisyORCPD`` does.

Layout of a finding with more than ``max_table_parents`` causes (else one table over its causes):
``<f>__leak`` (the leak's pattern), ``<f>__via__<cause>`` (the pattern that cause produces, empty when
absent), and a chain ``<f>__or<i>`` of deterministic unions ending in the finding's unit. A gated
finding's unit is ``<f>__unit`` and the finding itself is ``unit AND leg_numbness`` (a categorical one
is ``none`` without leg numbness); ``leg_numbness`` is ``numbness_side != none``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ._model import CHIEF_COMPLAINT, SIDE, FindingNode, Model

if TYPE_CHECKING:
    from pgmpy.models import DiscreteBayesianNetwork

BINARY = ("True", "False")


def _pattern_order(f: FindingNode) -> list[int]:
    """Pattern indices in exported state order (binary and categorical: unit-on state first)."""
    return list(range(f.n_patterns)) if f.kind == "side" else [1, 0]


class _Builder:
    def __init__(self) -> None:
        self.states: dict[str, tuple[str, ...]] = {}
        self.cpds: list[Any] = []
        self.edges: list[tuple[str, str]] = []

    def add(
        self,
        name: str,
        states: Sequence[str],
        parents: Sequence[str],
        distribution: Callable[[tuple[int, ...]], Sequence[float]],
    ) -> None:
        """Add a variable whose distribution given parent state indices (exported order) is given."""
        from pgmpy.factors.discrete import TabularCPD

        self.states[name] = tuple(states)
        cards = [len(self.states[p]) for p in parents]
        columns = [np.asarray(distribution(idx), dtype=float) for idx in itertools.product(*map(range, cards))]
        values = np.stack(columns, axis=1) if columns else np.zeros((len(states), 1))
        self.cpds.append(
            TabularCPD(
                name,
                len(states),
                values,
                evidence=list(parents) or None,
                evidence_card=cards or None,
                state_names={n: list(self.states[n]) for n in (name, *parents)},
            )
        )
        self.edges.extend((p, name) for p in parents)


def to_pgmpy(model: Model, *, max_table_parents: int = 6) -> DiscreteBayesianNetwork:
    """See :meth:`numbdx.Model.to_pgmpy`."""
    from pgmpy.models import DiscreteBayesianNetwork

    if max_table_parents < 0:
        raise ValueError("max_table_parents must be >= 0")
    b = _Builder()
    # internal index of each exported state, per upper variable
    internal: dict[int, list[int]] = {}
    for i, var in enumerate(model.upper):
        binary = var.states == ("False", "True")
        internal[i] = [1, 0] if binary else list(range(var.card))
        states = BINARY if binary else var.states
        parents = [model.upper[p].name for p in var.parents]

        def prior(idx: tuple[int, ...], var: Any = var, i: int = i) -> np.ndarray:
            pidx = tuple(internal[p][k] for p, k in zip(var.parents, idx))
            return var.table[pidx][internal[i]]

        b.add(var.name, states, parents, prior)
    for cause in model.causes:

        def present(idx: tuple[int, ...], cause: Any = cause) -> list[float]:
            p = float(cause.p_present[tuple(internal[pa][k] for pa, k in zip(cause.parents, idx))])
            return [p, 1 - p]

        b.add(cause.name, BINARY, [model.upper[p].name for p in cause.parents], present)

    for f in model.findings:
        _add_finding(b, model, f, max_table_parents)
    side = model.findings[model.finding_index[SIDE]]
    none_state = side.pattern_states[0]
    b.add(CHIEF_COMPLAINT, BINARY, [SIDE], lambda idx: [0.0, 1.0] if b.states[SIDE][idx[0]] == none_state else [1.0, 0.0])
    for f in model.findings:
        if f.gated:
            _add_gate(b, f)

    network = DiscreteBayesianNetwork()
    network.add_nodes_from(b.states)
    network.add_edges_from(b.edges)
    network.add_cpds(*b.cpds)
    return network


def _union(dist_a: np.ndarray, dist_b: np.ndarray) -> np.ndarray:
    out = np.zeros_like(dist_a)
    for a, pa in enumerate(dist_a):
        for c, pc in enumerate(dist_b):
            out[a | c] += pa * pc
    return out


def _add_finding(b: _Builder, model: Model, f: FindingNode, max_table_parents: int) -> None:
    order = _pattern_order(f)
    states = [f.pattern_states[p] for p in order]
    unit = f"{f.name}__unit" if f.gated else f.name
    causes = [model.causes[c].name for c in f.parents]
    empty = np.eye(f.n_patterns)[0]

    if len(causes) <= max_table_parents:

        def table(idx: tuple[int, ...]) -> np.ndarray:
            dist = f.leak_probs
            for c, k in zip(f.parents, idx):
                if k == 0:  # "True"
                    dist = _union(dist, f.pattern_probs[c])
            return dist[order]

        b.add(unit, states, causes, table)
        return

    def deterministic(idx: tuple[int, ...]) -> np.ndarray:
        return np.eye(f.n_patterns)[order[idx[0]] | order[idx[1]]][order]

    b.add(f"{f.name}__leak", states, [], lambda idx: f.leak_probs[order])
    previous = f"{f.name}__leak"
    for n, (c, cause) in enumerate(zip(f.parents, causes)):
        via = f"{f.name}__via__{cause}"
        b.add(via, states, [cause], lambda idx, c=c: (f.pattern_probs[c] if idx[0] == 0 else empty)[order])
        target = unit if n == len(causes) - 1 else f"{f.name}__or{n + 1}"
        b.add(target, states, [previous, via], deterministic)
        previous = target


def _add_gate(b: _Builder, f: FindingNode) -> None:
    unit = f"{f.name}__unit"
    unit_states = b.states[unit]
    if f.kind == "binary":
        b.add(f.name, BINARY, [unit, CHIEF_COMPLAINT],
              lambda idx: [1.0, 0.0] if idx == (0, 0) else [0.0, 1.0])
    else:
        states = (*unit_states, "none")

        def gate(idx: tuple[int, ...]) -> np.ndarray:
            out = np.zeros(len(states))
            out[idx[0] if idx[1] == 0 else len(states) - 1] = 1.0
            return out

        b.add(f.name, states, [unit, CHIEF_COMPLAINT], gate)


def pgmpy_evidence(model: Model, evidence: Mapping[str, Any]) -> dict[str, str]:
    """numbdx evidence (validated and normalised, the chief complaint assumed) as pgmpy state names."""
    from ._evidence import normalise

    ev = normalise(model, evidence)
    out: dict[str, str] = {}
    for name, value in ev.values.items():
        if name == "age":
            out[name] = model.upper[model.upper_index["age"]].states[ev.upper[model.upper_index["age"]]]
        else:
            out[name] = str(value)
    return out
