"""The one module that talks to pgmpy: the model as a ``DiscreteBayesianNetwork``, and evidence for it.

pgmpy traps this module stays clear of: ``TabularCPD`` columns follow the evidence order with the last
parent varying fastest (``itertools.product`` order); state names are always passed explicitly, so a
state is never read as an integer index; binary variables use the strings ``"True"``/``"False"`` in that
order, as pgmpy's ``NoisyORCPD`` does.

Layout. ``leg_numbness__by__<cause>``: whether that cause activates leg numbness. A finding with more
than ``max_table_parents`` parents (else one table over them) becomes ``<f>__leak`` (the leak's
pattern), ``<f>__via__<cause>`` (the pattern that cause produces, empty when absent), and a chain
``<f>__or<i>`` of deterministic unions ending in the finding (or its unit). The parents are the causes
for an ordinary finding, and the activations for ``numbness_side`` and for the unit ``<f>__unit`` of a
gated finding; the gated finding itself is ``unit OR (<f>__leak AND leg_numbness)`` (a categorical one
is ``none`` without leg numbness). ``leg_numbness`` is ``numbness_side != none``.
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

    activations = {}
    for c in model.findings[model.side_index].parents:
        name = f"{CHIEF_COMPLAINT}__by__{model.causes[c].name}"
        s_c = float(model.activation[c])
        b.add(name, BINARY, [model.causes[c].name], lambda idx, s_c=s_c: [s_c, 1 - s_c] if idx[0] == 0 else [0.0, 1.0])
        activations[c] = name
    for f in model.findings:
        parents = [activations[c] if f.gated or f.kind == "side" else model.causes[c].name for c in f.parents]
        if f.gated:
            _add_union(b, f, f"{f.name}__unit", parents, with_leak=False, max_table_parents=max_table_parents)
        else:
            _add_union(b, f, f.name, parents, with_leak=f.kind != "side", max_table_parents=max_table_parents)
    side = model.findings[model.side_index]
    none_state = side.pattern_states[0]
    b.add(
        CHIEF_COMPLAINT, BINARY, [SIDE], lambda idx: [0.0, 1.0] if b.states[SIDE][idx[0]] == none_state else [1.0, 0.0]
    )
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


def _add_union(
    b: _Builder, f: FindingNode, name: str, parents: list[str], *, with_leak: bool, max_table_parents: int
) -> None:
    """``name`` = union of the patterns its parents produce when "True" (and of the leak's)."""
    order = _pattern_order(f)
    states = [f.pattern_states[p] for p in order]
    empty = np.eye(f.n_patterns)[0]
    leak = f.leak_probs if with_leak else empty
    produced = [f.pattern_probs[c] for c in f.parents]

    if len(parents) <= max_table_parents:

        def table(idx: tuple[int, ...]) -> np.ndarray:
            dist = leak
            for probs, k in zip(produced, idx):
                if k == 0:  # "True"
                    dist = _union(dist, probs)
            return dist[order]

        b.add(name, states, parents, table)
        return

    def deterministic(idx: tuple[int, ...]) -> np.ndarray:
        return np.eye(f.n_patterns)[order[idx[0]] | order[idx[1]]][order]

    previous = f"{name}__leak"
    b.add(previous, states, [], lambda idx: leak[order])
    for n, (parent, probs) in enumerate(zip(parents, produced)):
        cause = parent.rsplit("__by__", 1)[-1]
        via = f"{f.name}__via__{cause}"
        b.add(via, states, [parent], lambda idx, probs=probs: (probs if idx[0] == 0 else empty)[order])
        target = name if n == len(parents) - 1 else f"{f.name}__or{n + 1}"
        b.add(target, states, [previous, via], deterministic)
        previous = target


def _add_gate(b: _Builder, f: FindingNode) -> None:
    """``f = unit OR (leak AND leg_numbness)``; a categorical one is ``none`` without leg numbness."""
    unit = f"{f.name}__unit"
    leak = f"{f.name}__leak"
    unit_states = b.states[unit]  # unit-on state first
    b.add(leak, unit_states, [], lambda idx: f.leak_probs[_pattern_order(f)])
    on = 0
    if f.kind == "binary":
        b.add(
            f.name,
            BINARY,
            [unit, leak, CHIEF_COMPLAINT],
            lambda idx: [1.0, 0.0] if idx[0] == on or (idx[1] == on and idx[2] == 0) else [0.0, 1.0],
        )
        return
    states = (*unit_states, "none")

    def gate(idx: tuple[int, ...]) -> np.ndarray:
        out = np.zeros(len(states))
        if idx[2] != 0:  # no leg numbness
            out[-1] = 1.0
        else:
            out[on if idx[0] == on or idx[1] == on else 1] = 1.0
        return out

    b.add(f.name, states, [unit, leak, CHIEF_COMPLAINT], gate)


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
