"""Brute-force enumeration of a (small) model's joint distribution: the independent oracle for tests.

It shares nothing with the engine but the compiled tables: it enumerates every state of the context,
risk factors, causes and the causes' numbness activations, and computes each finding's pattern
distribution by convolving unions of patterns directly (no Quickscore, no inclusion-exclusion, no
elimination).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np

from numbdx._evidence import Evidence
from numbdx._model import Model


def _pattern_distribution(finding, present: tuple[int, ...]) -> np.ndarray:
    dist = finding.leak_probs.copy()
    for c in present:
        new = np.zeros_like(dist)
        for a, pa in enumerate(dist):
            for b, pb in enumerate(finding.pattern_probs[c]):
                new[a | b] += pa * pb
        dist = new
    return dist


def _given_causes(model: Model, evidence: Evidence, present: tuple[int, ...]) -> tuple[float, np.ndarray]:
    """P(evidence | present causes) and, per cause, P(evidence, cause activates the numbness | present)."""
    n_causes = len(model.causes)
    side = model.findings[model.side_index]
    allowed_side = evidence.findings.get(model.side_index, frozenset(range(4)))
    other = 1.0
    for index, allowed in evidence.findings.items():
        f = model.findings[index]
        if not f.gated and index != model.side_index:
            dist = _pattern_distribution(f, present)
            other *= sum(dist[a] for a in allowed)
    total, activated_mass = 0.0, np.zeros(n_causes)
    for active in itertools.product((0, 1), repeat=len(present)):
        p_active = 1.0
        for c, a in zip(present, active):
            p_active *= model.activation[c] if a else 1 - model.activation[c]
        activated = tuple(c for c, a in zip(present, active) if a)
        dist = _pattern_distribution(side, activated)
        likelihood = sum(dist[a] for a in allowed_side)
        for index, allowed in evidence.findings.items():
            f = model.findings[index]
            if not f.gated:
                continue
            p_on = 0.0
            if activated:  # a gated feature needs leg numbness
                p_on = 1 - f.leak_probs[0] * np.prod([f.pattern_probs[c, 0] for c in activated])
            likelihood *= (p_on if 1 in allowed else 0) + ((1 - p_on) if 0 in allowed else 0)
        weight = p_active * likelihood * other
        total += weight
        for c in activated:
            activated_mass[c] += weight
    return total, activated_mass


def brute_force(model: Model, evidence: Evidence) -> tuple[np.ndarray, np.ndarray, float]:
    """P(cause present | e), P(cause present and producing the numbness | e), and P(e), by enumeration."""
    n_causes = len(model.causes)
    if len(model.upper) + n_causes > 24:
        raise ValueError("model too large for brute force")
    cause_configs = list(itertools.product((0, 1), repeat=n_causes))
    given = [_given_causes(model, evidence, tuple(c for c in range(n_causes) if cfg[c])) for cfg in cause_configs]
    present_mass, activated_mass, total = np.zeros(n_causes), np.zeros(n_causes), 0.0
    for upper_state in itertools.product(*(range(v.card) for v in model.upper)):
        if any(upper_state[i] != s for i, s in evidence.upper.items()):
            continue
        p_upper = 1.0
        for i, var in enumerate(model.upper):
            p_upper *= var.table[(*tuple(upper_state[p] for p in var.parents), upper_state[i])]
        if p_upper == 0:
            continue
        p_cause = np.array([c.p_present[tuple(upper_state[p] for p in c.parents)] for c in model.causes])
        for cfg, (likelihood, activated) in zip(cause_configs, given):
            cfg = np.array(cfg)
            weight = p_upper * np.prod(np.where(cfg == 1, p_cause, 1 - p_cause))
            total += weight * likelihood
            present_mass += weight * likelihood * cfg
            activated_mass += weight * activated
    return present_mass / total, activated_mass / total, total


def brute_force_from_mapping(model: Model, evidence: Mapping) -> np.ndarray:
    from numbdx._evidence import normalise

    return brute_force(model, normalise(model, evidence))[0]
