"""Brute-force enumeration of a (small) model's joint distribution: the independent oracle for tests.

It shares nothing with the engine but the compiled tables: it enumerates every state of the context,
risk factors and causes, and computes each finding's pattern distribution by convolving unions of
patterns directly (no Quickscore, no inclusion-exclusion, no elimination).
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


def brute_force(model: Model, evidence: Evidence) -> tuple[np.ndarray, float]:
    """Posterior of every cause and P(evidence), by enumerating the whole joint."""
    n_causes = len(model.causes)
    if len(model.upper) + n_causes > 24:
        raise ValueError("model too large for brute force")
    cause_configs = list(itertools.product((0, 1), repeat=n_causes))
    likelihood = np.ones(len(cause_configs))
    for k, config in enumerate(cause_configs):
        present = tuple(c for c in range(n_causes) if config[c])
        for index, allowed in evidence.findings.items():
            dist = _pattern_distribution(model.findings[index], present)
            likelihood[k] *= sum(dist[a] for a in allowed)
    joint_present = np.zeros(n_causes)
    total = 0.0
    for upper_state in itertools.product(*(range(v.card) for v in model.upper)):
        if any(upper_state[i] != s for i, s in evidence.upper.items()):
            continue
        p_upper = 1.0
        for i, var in enumerate(model.upper):
            p_upper *= var.table[tuple(upper_state[p] for p in var.parents) + (upper_state[i],)]
        if p_upper == 0:
            continue
        p_cause = np.array([c.p_present[tuple(upper_state[p] for p in c.parents)] for c in model.causes])
        for k, config in enumerate(cause_configs):
            cfg = np.array(config)
            weight = p_upper * np.prod(np.where(cfg == 1, p_cause, 1 - p_cause)) * likelihood[k]
            total += weight
            joint_present += weight * cfg
    return joint_present / total, total


def brute_force_from_mapping(model: Model, evidence: Mapping) -> np.ndarray:
    from numbdx._evidence import normalise

    return brute_force(model, normalise(model, evidence))[0]
