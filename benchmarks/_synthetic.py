"""Synthetic knowledge bases: the real model scaled 2x, 5x, 10x, with the real model's statistics.

:func:`scaled_knowledge_base` copies the real :class:`~numbdx._priors.KnowledgeBase` (with
:func:`dataclasses.replace`) and adds, seeded:

* ``(factor - 1) * 32`` synthetic causes (the real causes but ``other_cause``, which stays the one
  leak), named ``syn<r>_<template>`` (``syn3_gout``: the third copy modelled on gout). Each keeps its
  template's group, required risk factors and (by default) odds-ratio factors, but is never a red
  flag and never in a self-care group (``other`` instead): the triage rules give every red-flag cause
  a threshold and every self-care cause its advice, and synthetic causes have neither. Its baseline
  is drawn from the real baselines and its odds ratios from the real odds ratios
  (``or_factors="drawn"``: the number of odds ratios from the real per-cause distribution, the
  factors by how often real causes use them); its ``[[side]]`` record (activation and unilateral
  probabilities) from the real side records; and it gets its template's links to the categorical
  gated findings (onset, course), which every real cause has.
* ``(factor - 1) * 61`` synthetic binary findings ``syn<r>_<template>`` with their template's group,
  gating and leak. Each gets a number of parents drawn from the real parents-per-finding
  distribution (binary findings), and each parent is a synthetic cause drawn in proportion to a
  links-per-cause budget drawn from the real distribution (binary links), without duplicate links;
  link probabilities are drawn from the real binary links.

The real causes and findings keep their links, so evidence on real findings has the same term
structure at every scale and a sweep isolates the cost of model size. The synthetic block couples to
the real one through the risk-factor layer and the numbness (side, onset, course). Numbers of
synthetic records are sourced ``assumption`` with a note saying they are synthetic.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from numbdx._priors import Finding, KnowledgeBase, Link, Number, OddsRatio, SideLink
from numbdx._triage import load_triage

LEAK = "other_cause"
NOTE = "synthetic record for benchmarks (benchmarks/_synthetic.py), drawn from the real model's values"


def _number(template: Number, value: float, where: str) -> Number:
    """A synthetic number: ``value`` with a range that contains it, labelled as an assumption."""
    return dataclasses.replace(
        template,
        value=float(value),
        low=min(template.low, float(value)),
        high=max(template.high, float(value)),
        source="assumption",
        scale="assumption",
        where=f"synthetic: {where}",
        section=None,
        quote=None,
        citation=None,
        note=NOTE,
    )


def _draw(rng: np.random.Generator, values: Sequence[Any]) -> Any:
    return values[int(rng.integers(len(values)))]


def scaled_knowledge_base(
    kb: KnowledgeBase, factor: int, *, seed: int = 0, or_factors: str = "template"
) -> KnowledgeBase:
    """The real knowledge base scaled ``factor`` times in causes and binary findings (see module doc).

    Parameters
    ----------
    kb
        The real knowledge base (``numbdx.load_model().knowledge``).
    factor
        1 returns an unchanged copy; 2, 5, 10 ... add ``factor - 1`` synthetic copies' worth.
    seed
        Seed of the :class:`numpy.random.Generator` that draws every synthetic number.
    or_factors
        ``"template"``: a synthetic cause has its template's risk factors (the real risk-factor
        structure; odds-ratio values drawn). ``"drawn"``: as many risk factors as a real cause has,
        drawn by how often the real causes use them, which creates combinations the real model does
        not have and so a denser risk-factor layer to sum out.

    Returns
    -------
    KnowledgeBase
        Build the model with ``numbdx.Model(kb)``.
    """
    if factor < 1:
        raise ValueError("factor must be >= 1")
    if or_factors not in ("template", "drawn"):
        raise ValueError("or_factors must be 'template' or 'drawn'")
    rng = np.random.default_rng(seed)
    finding_kind = {f.name: f.kind for f in kb.findings}
    real_causes = [c for c in kb.causes if c.name != LEAK]
    binary = [f for f in kb.findings if f.kind == "binary"]
    binary_links = [link for link in kb.links if finding_kind[link.finding] == "binary"]
    categorical_links = [link for link in kb.links if finding_kind[link.finding] == "categorical"]

    # the real distributions the synthetic records are drawn from
    baselines = [c.baseline for c in real_causes]
    ors_per_cause = [len(c.odds_ratios) for c in real_causes]
    or_records = [o for c in real_causes for o in c.odds_ratios]
    link_ps = [link.p for link in binary_links]
    parents_count = Counter(link.finding for link in binary_links)
    parents_per_finding = [parents_count.get(f.name, 0) for f in binary]
    links_count = Counter(link.cause for link in binary_links)
    links_per_cause = [links_count.get(c.name, 0) for c in real_causes]
    side_by_cause = {s.cause: s for s in kb.sides}
    sides = [side_by_cause[c.name] for c in real_causes]
    # the triage rules give every cause of a self-care group its advice, and synthetic ones have none
    self_care_groups = set(load_triage(knowledge=kb).self_care.groups)

    causes, new_sides, new_links = [], [], []
    for j in range((factor - 1) * len(real_causes)):
        template = real_causes[j % len(real_causes)]
        name = f"syn{j // len(real_causes) + 1}_{template.name}"
        if or_factors == "template":  # the template's factors: the real risk-factor structure
            wanted = [o.factor for o in template.odds_ratios]
        else:  # as many as a real cause has, factors drawn by how often real causes use them
            wanted = []
            n_or = int(_draw(rng, ors_per_cause))
            for _ in range(50 * n_or):
                if len(wanted) == n_or:
                    break
                factor_name = _draw(rng, or_records).factor
                if factor_name not in wanted and factor_name not in template.requires:
                    wanted.append(factor_name)
        odds = []
        for factor_name in wanted:
            value = _draw(rng, or_records).odds_ratio
            odds.append(OddsRatio(name, factor_name, _number(value, value.value, f"{name} x {factor_name}")))
        base = _draw(rng, baselines)
        causes.append(
            dataclasses.replace(
                template,
                name=name,
                label=f"Synthetic cause {name}",
                baseline=_number(base, base.value, f"{name} baseline"),
                odds_ratios=tuple(odds),
                red_flag=False,  # triage.toml must give every red-flag cause a threshold; these have none
                group="other" if template.group in self_care_groups else template.group,
            )
        )
        side = _draw(rng, sides)
        new_sides.append(
            SideLink(name, _number(side.p, side.p.value, name), _number(side.unilateral, side.unilateral.value, name))
        )
        new_links += [
            Link(name, link.finding, _number(link.p, link.p.value, f"{name} -> {link.finding}"))
            for link in categorical_links
            if link.cause == template.name
        ]

    findings: list[Finding] = []
    for j in range((factor - 1) * len(binary)):
        template = binary[j % len(binary)]
        findings.append(
            dataclasses.replace(
                template,
                name=f"syn{j // len(binary) + 1}_{template.name}",
                label=f"Synthetic finding modelled on {template.name}",
            )
        )

    # parents of the synthetic findings: in-degree from the real profile; causes drawn in proportion to
    # a links-per-cause budget from the real profile (refilled when spent), no duplicate links
    if causes and findings:
        budget = np.array([float(_draw(rng, links_per_cause)) for _ in causes]) + 1e-9
        remaining = budget.copy()
        for f in findings:
            degree = min(int(_draw(rng, parents_per_finding)), len(causes))
            if remaining.sum() < degree:
                remaining = remaining + budget
            chosen = rng.choice(len(causes), size=degree, replace=False, p=remaining / remaining.sum())
            for c in chosen:
                remaining[c] = max(remaining[c] - 1, 1e-9)
                p = _draw(rng, link_ps)
                name = causes[c].name
                new_links.append(Link(name, f.name, _number(p, p.value, f"{name} -> {f.name}")))

    digest = hashlib.sha256(f"{kb.digest}:scaled:{factor}:{seed}".encode()).hexdigest()
    return dataclasses.replace(
        kb,
        digest=digest,
        causes=(*kb.causes, *causes),
        findings=(*kb.findings, *findings),
        links=(*kb.links, *new_links),
        sides=(*kb.sides, *new_sides),
    )


def profile(kb: KnowledgeBase) -> dict[str, float]:
    """Counts and mean degrees, to compare a synthetic knowledge base with the real one."""
    kind = {f.name: f.kind for f in kb.findings}
    binary = [f.name for f in kb.findings if f.kind == "binary"]
    links = [link for link in kb.links if kind[link.finding] == "binary"]
    parents = Counter(link.finding for link in links)
    per_cause = Counter(link.cause for link in links)
    causes = [c for c in kb.causes if c.name != LEAK]
    return {
        "causes": len(kb.causes),
        "binary findings": len(binary),
        "links": len(kb.links),
        "parents per binary finding": float(np.mean([parents.get(f, 0) for f in binary])),
        "max parents": max(parents.values(), default=0),
        "binary links per cause": float(np.mean([per_cause.get(c.name, 0) for c in causes])),
        "odds ratios per cause": float(np.mean([len(c.odds_ratios) for c in causes])),
    }
