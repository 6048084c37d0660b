"""The compiled model: the knowledge base turned into the tables inference works on.

Three layers:

* the **upper layer**: context (``age`` band, ``sex``) and binary risk factors, each with a prior that
  may depend on the context;
* **causes**: binary, ``P(cause | parents) = logistic(logit(baseline) + sum(log OR))``, and zero when a
  required risk factor is absent;
* **findings**: set-union noisy-OR units. Each present cause independently produces a *pattern* (for a
  binary finding: on/off) and the finding is the union of the patterns of the present causes and of its
  leak: a binary finding is the usual noisy-OR.
* **the numbness itself**: each present cause independently *activates* leg numbness with probability
  ``activation[c]`` (its ``[[side]]`` link). An activated cause numbs one leg or both
  (the side finding's ``pattern_probs``) and produces each gated feature (location, sensation, onset, course,
  timing) with its link probability, which is therefore read *given that this cause numbs the leg*.
  ``leg_numbness`` is "some cause activated" (``numbness_side != none``); a gated feature is on when an
  activated cause produced it or, with leg numbness present, through its own leak.

Patterns are bit masks (bit 0 = the unit for a binary finding; bit 0 = left, bit 1 = right for the side),
so the union of patterns is bitwise OR and ``P(pattern is a subset of B | causes)`` is a product over
causes: the form Quickscore needs (see ``_engine``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from ._exceptions import NumbdxError
from ._priors import KnowledgeBase, load_knowledge_base

if TYPE_CHECKING:
    import pandas as pd
    from pgmpy.models import DiscreteBayesianNetwork

CHIEF_COMPLAINT = "leg_numbness"
SIDE = "numbness_side"


@dataclass(frozen=True)
class UpperVariable:
    """A context variable or risk factor: ``table[parent states..., state] = P(state | parents)``."""

    name: str
    states: tuple[str, ...]
    parents: tuple[int, ...]
    table: np.ndarray

    @property
    def card(self) -> int:
        return len(self.states)


@dataclass(frozen=True)
class CauseNode:
    """A binary cause: ``p_present[parent states...] = P(cause present | parents)``."""

    name: str
    label: str
    group: str
    red_flag: bool
    parents: tuple[int, ...]
    p_present: np.ndarray


@dataclass(frozen=True)
class FindingNode:
    """A set-union noisy-OR finding.

    ``pattern_probs[c, pattern]`` is the distribution of the pattern cause ``c`` produces when present
    (a cause with no link produces the empty pattern); ``leak_probs[pattern]`` the leak's.
    ``subset_mult[B, c] = P(pattern_c is a subset of B | c present)``, the multiplier Quickscore uses.
    """

    name: str
    label: str
    group: str
    kind: str
    gated: bool  # pattern_probs are then given the cause's activation (see the module docstring)
    states: tuple[str, ...]
    pattern_states: tuple[str, ...]
    pattern_probs: np.ndarray
    leak_probs: np.ndarray
    parents: tuple[int, ...]
    subset_mult: np.ndarray = field(repr=False)
    leak_subset_mult: np.ndarray = field(repr=False)

    @property
    def n_patterns(self) -> int:
        return len(self.pattern_states)


def _subset_sums(probs: np.ndarray) -> np.ndarray:
    """``out[..., B] = sum of probs[..., p] over patterns p that are subsets of B``."""
    n = probs.shape[-1]
    return np.stack([probs[..., [p for p in range(n) if p & b == p]].sum(axis=-1) for b in range(n)], axis=-1)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


class Model:
    """A loaded numbdx model: the knowledge base compiled for exact inference.

    Get the shipped model with :func:`numbdx.load_model`. A model is immutable once built, so one
    instance can serve many threads.
    """

    def __init__(self, kb: KnowledgeBase, *, cause_subset: Iterable[str] | None = None) -> None:
        self.knowledge = kb
        keep = None if cause_subset is None else set(cause_subset)
        causes = [c for c in kb.causes if keep is None or c.name in keep]
        if keep is not None:
            unknown = sorted(keep - {c.name for c in kb.causes})
            if unknown:
                raise NumbdxError(f"unknown cause(s) {unknown}")
        self._build_upper(kb, causes)
        self._build_causes(causes)
        self._build_findings(kb, keep)

    # --- construction -------------------------------------------------------------------------
    def _build_upper(self, kb: KnowledgeBase, causes: list[Any]) -> None:
        used = {r for c in causes for r in c.requires} | {
            o.factor for c in causes for o in c.odds_ratios if ":" not in o.factor
        }
        age = UpperVariable("age", kb.age_bands, (), np.array([n.value for n in kb.age_prior]))
        sex = UpperVariable("sex", kb.sex_states, (), np.array([n.value for n in kb.sex_prior]))
        upper = [age, sex]
        context_index = {"age": 0, "sex": 1}
        for rf in kb.risk_factors:
            if rf.name not in used:
                continue
            parents = rf.context_parents
            shape = tuple(upper[context_index[p]].card for p in parents)
            p_true = np.empty(shape)
            for idx in np.ndindex(*shape) if shape else [()]:
                context = {p: upper[context_index[p]].states[i] for p, i in zip(parents, idx)}
                p_true[idx] = self._risk_factor_prior(rf, context)
            table = np.stack([1 - p_true, p_true], axis=-1)
            upper.append(UpperVariable(rf.name, ("False", "True"), tuple(context_index[p] for p in parents), table))
        self.upper: tuple[UpperVariable, ...] = tuple(upper)
        self.upper_index = {v.name: i for i, v in enumerate(self.upper)}

    @staticmethod
    def _risk_factor_prior(rf: Any, context: Mapping[str, str]) -> float:
        """The most specific override whose context matches wins; else the default prior."""
        best, best_size = rf.prior.value, 0
        for when, number in rf.overrides:
            if all(context.get(k) == v for k, v in when.items()) and len(when) > best_size:
                best, best_size = number.value, len(when)
        return best

    def _build_causes(self, causes: list[Any]) -> None:
        nodes = []
        for cause in causes:
            parent_names = list(cause.requires) + [o.factor for o in cause.odds_ratios if ":" not in o.factor]
            if any(o.factor.startswith("age:") for o in cause.odds_ratios):
                parent_names.insert(0, "age")
            if any(o.factor == "sex:female" for o in cause.odds_ratios):
                parent_names.insert(1 if parent_names[:1] == ["age"] else 0, "sex")
            parents = tuple(self.upper_index[n] for n in parent_names)
            shape = tuple(self.upper[i].card for i in parents)
            p_present = np.zeros(shape)
            base = _logit(cause.baseline.value)
            for idx in np.ndindex(*shape) if shape else [()]:
                state = {n: self.upper[self.upper_index[n]].states[i] for n, i in zip(parent_names, idx)}
                if any(state[r] != "True" for r in cause.requires):
                    continue  # structural zero: a required risk factor is absent
                logit = base
                for o in cause.odds_ratios:
                    kind, _, value = o.factor.partition(":")
                    active = state[kind] == value if value else state[o.factor] == "True"
                    if active:
                        logit += math.log(o.odds_ratio.value)
                p_present[idx] = 1 / (1 + math.exp(-logit))
            nodes.append(CauseNode(cause.name, cause.label, cause.group, cause.red_flag, parents, p_present))
        self.causes: tuple[CauseNode, ...] = tuple(nodes)
        self.cause_index = {c.name: i for i, c in enumerate(self.causes)}

    def _build_findings(self, kb: KnowledgeBase, keep: set[str] | None) -> None:
        n_causes = len(self.causes)
        links: dict[str, dict[int, float]] = {}
        for link in kb.links:
            if link.cause in self.cause_index:
                links.setdefault(link.finding, {})[self.cause_index[link.cause]] = link.p.value
        nodes = []
        for f in kb.findings:
            if f.kind == "side":
                if f.leak.value != 0:
                    raise NumbdxError("numbness_side must have leak 0: other_cause is the chief complaint's leak")
                pattern_states: tuple[str, ...] = ("none", "left", "right", "both")
                probs = np.zeros((n_causes, 4))  # given activation: a leg is numb
                activation = np.zeros(n_causes)
                for side in kb.sides:
                    if side.cause in self.cause_index:
                        c, u = self.cause_index[side.cause], side.unilateral.value
                        activation[c] = side.p.value
                        probs[c] = [0.0, u / 2, u / 2, 1 - u]
                self.activation = activation
                leak = np.array([1.0, 0.0, 0.0, 0.0])
            else:
                if keep is not None and f.name not in links:
                    continue  # a sub-model keeps only the findings its causes produce
                pattern_states = ("False", "True") if f.kind == "binary" else (f.states[1], f.states[0])
                probs = np.zeros((n_causes, 2))
                probs[:, 0] = 1.0
                for c, q in links.get(f.name, {}).items():
                    probs[c] = [1 - q, q]
                leak = np.array([1 - f.leak.value, f.leak.value])
            parents = tuple(int(c) for c in np.flatnonzero(probs[:, 0] < 1))
            if f.kind == "side":
                parents = tuple(int(c) for c in np.flatnonzero(activation > 0))
            nodes.append(
                FindingNode(
                    name=f.name,
                    label=f.label,
                    group=f.group,
                    kind=f.kind,
                    gated=f.gated,
                    states=f.states if f.kind != "binary" else ("True", "False"),
                    pattern_states=pattern_states,
                    pattern_probs=probs,
                    leak_probs=leak,
                    parents=parents,
                    subset_mult=_subset_sums(probs).T.copy(),
                    leak_subset_mult=_subset_sums(leak),
                )
            )
        self.findings: tuple[FindingNode, ...] = tuple(nodes)
        self.finding_index = {f.name: i for i, f in enumerate(self.findings)}
        self.side_index = self.finding_index[SIDE]

    # --- public surface ---------------------------------------------------------------------
    @property
    def cause_names(self) -> tuple[str, ...]:
        """Names of the causes, in model order."""
        return tuple(c.name for c in self.causes)

    @cached_property
    def identity(self) -> dict[str, str]:
        """The package version and the SHA-256 of the knowledge-base files this model was built from."""
        from . import __version__

        subset = "" if len(self.causes) == len(self.knowledge.causes) else f"+sub{len(self.causes)}"
        return {"package_version": __version__, "priors_sha256": self.knowledge.digest + subset}

    def submodel(self, causes: Iterable[str]) -> Model:
        """A model restricted to ``causes``, their risk factors and the findings they produce.

        The numbers are the real ones. Used to check inference against engines that cannot handle the
        full model (pgmpy variable elimination, pyAgrum, brute-force enumeration).
        """
        causes = list(causes)
        if "other_cause" not in causes:
            causes.append("other_cause")  # the chief complaint needs its leak
        return Model(self.knowledge, cause_subset=causes)

    def evidence_names(self) -> tuple[str, ...]:
        """Every name :func:`numbdx.infer` accepts."""
        return self._evidence_names

    @cached_property
    def _evidence_names(self) -> tuple[str, ...]:
        return (*tuple(v.name for v in self.upper), CHIEF_COMPLAINT, *tuple(f.name for f in self.findings))

    @cached_property
    def _evidence_name_set(self) -> frozenset[str]:
        return frozenset(self._evidence_names)

    def vocabulary(self) -> pd.DataFrame:
        """Every evidence name, its kind, its states and a plain-language description."""
        import pandas as pd

        kb = self.knowledge
        rows: list[dict[str, Any]] = [
            {
                "name": "age",
                "kind": "context",
                "group": "context",
                "states": "number of years (0-130)",
                "description": "Age in years; used through the bands " + ", ".join(kb.age_bands),
            },
            {"name": "sex", "kind": "context", "group": "context", "states": "female, male", "description": "Sex"},
        ]
        rf_by_name = {r.name: r for r in kb.risk_factors}
        for var in self.upper[2:]:
            rows.append(
                {
                    "name": var.name,
                    "kind": "risk_factor",
                    "group": "risk_factor",
                    "states": "True, False",
                    "description": rf_by_name[var.name].description,
                }
            )
        rows.append(
            {
                "name": CHIEF_COMPLAINT,
                "kind": "finding",
                "group": "chief_complaint",
                "states": "True, False",
                "description": "Numbness of the legs or feet (the chief complaint; assumed True unless given)",
            }
        )
        for f in self.findings:
            states = ", ".join(f.states)
            rows.append(
                {
                    "name": f.name,
                    "kind": "finding",
                    "group": f.group,
                    "states": states,
                    "description": f.label + (" (describes the numbness itself)" if f.gated else ""),
                }
            )
        return pd.DataFrame(rows, columns=["name", "kind", "group", "states", "description"])

    def to_pgmpy(self, *, max_table_parents: int = 6) -> DiscreteBayesianNetwork:
        """The model as a pgmpy ``DiscreteBayesianNetwork`` holding the same joint distribution.

        A finding with more than ``max_table_parents`` causes is decomposed into per-link activation
        variables and a chain of deterministic unions, so no table grows with 2**(number of causes).
        Variables keep their evidence names; binary ones have the states ``"True"`` and ``"False"``.
        """
        from ._pgmpy_adapter import to_pgmpy

        return to_pgmpy(self, max_table_parents=max_table_parents)

    def pgmpy_evidence(self, evidence: Mapping[str, Any]) -> dict[str, str]:
        """``evidence`` (validated, with the chief complaint assumed) as state names of :meth:`to_pgmpy`.

        ``age`` becomes its band; booleans become ``"True"``/``"False"``.
        """
        from ._pgmpy_adapter import pgmpy_evidence

        return pgmpy_evidence(self, evidence)

    def _repr_html_(self) -> str:
        # The view lives in _html; a repr must never raise in a notebook, so any failure falls back to
        # the plain repr, and past that to object's.
        try:
            from ._html import model_html

            return str(model_html(self))
        except Exception:
            from ._display import fallback_html

            return fallback_html(self)

    def draw(
        self,
        evidence: Mapping[str, Any] | None = None,
        *,
        ax: Any = None,
        max_causes: int | None = 12,
        max_findings: int | None = 20,
    ) -> Any:
        """Draw the network, or the part of it that matters for ``evidence``: risk factors, causes, findings.

        Three layers from left to right. The causes are the ``max_causes`` highest ranked given the
        evidence (given none, given the chief complaint alone), shaded by how much they explain the
        numbness, red flags outlined in red; their risk factors on the left, and on the right the
        evidence findings and the findings they produce most often. Evidence nodes are highlighted.

        Parameters
        ----------
        evidence : mapping, optional
            As for :func:`numbdx.infer`.
        ax : matplotlib.axes.Axes, optional
            The axes to draw on; a new figure by default.
        max_causes : int or None
            Causes drawn; None for all of them.
        max_findings : int or None
            Findings drawn; the evidence findings always are. None for every finding of the drawn causes.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ImportError
            matplotlib is not installed: ``pip install "numbdx[plot]"``.
        EvidenceError
            The evidence is invalid (as for :func:`numbdx.infer`).
        """
        from ._plot import draw_model

        return draw_model(self, evidence, ax=ax, max_causes=max_causes, max_findings=max_findings)

    def __repr__(self) -> str:
        return (
            f"<numbdx.Model {len(self.causes)} causes, {len(self.upper) - 2} risk factors, "
            f"{len(self.findings) + 1} findings, priors {self.knowledge.digest[:12]}>"
        )


def build_model(directory: Any = None) -> Model:
    """Load the knowledge base (validated, the triage rules included) and compile it."""
    from ._triage import load_triage

    kb = load_knowledge_base(directory)
    load_triage(knowledge=kb)  # a malformed triage.toml fails here, not at the first triage
    return Model(kb)
