"""The articles' comparatives ("the most common cause", "most often") hold in the model."""

from __future__ import annotations

import pytest

import numbdx

MODEL = numbdx.load_model()


def _groups(constraint):
    groups: dict[str, set[str]] = {}
    for c in MODEL.knowledge.causes:
        groups.setdefault(c.group, set()).add(c.name)
    if "members" in constraint:
        named = set(constraint["members"])
        groups = {g: m - named for g, m in groups.items() if m - named}
        return named, groups
    return groups.pop(constraint["group"]), groups


@pytest.mark.parametrize(
    "constraint",
    MODEL.knowledge.constraints,
    ids=[f"{c['kind']}-{c.get('cause') or c.get('group')}-{i}" for i, c in enumerate(MODEL.knowledge.constraints)],
)
def test_rank_constraint_holds(constraint):
    d = numbdx.infer(constraint["evidence"])
    post = d.posteriors()
    kind = constraint["kind"]
    where = f"{constraint['provenance'].quote!r}: top 5 {[(c.name, round(c.posterior, 3)) for c in d.top(5)]}"
    if kind == "top":
        assert d.rank(constraint["cause"]) == 1, where
    elif kind == "top_n":
        assert d.rank(constraint["cause"]) <= constraint["n"], where
    elif kind == "greater":
        assert post[constraint["cause"]] > post[constraint["than"]], where
    else:
        named, others = _groups(constraint)
        mass = sum(post[c] for c in named)
        for group, members in others.items():
            assert mass > sum(post[c] for c in members), f"{group} outweighs: {where}"


def test_there_are_constraints_from_both_articles():
    sources = {c["provenance"].source for c in MODEL.knowledge.constraints}
    assert {"legs", "heels"} <= sources
