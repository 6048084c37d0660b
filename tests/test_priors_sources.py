"""Every number and record of the knowledge base rests on words that are really in its source."""

from __future__ import annotations

import re

import pytest

from numbdx._priors import SOURCE_FILES


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def sources(shared_dir):
    out = {}
    for key, rel in SOURCE_FILES.items():
        text = (shared_dir / rel).read_text(encoding="utf-8")
        out[key] = (_norm(text), {line.strip() for line in text.splitlines() if line.strip()})
    return out


def _records(model):
    yield from model.knowledge.numbers()
    yield from model.knowledge.provenances()


def test_every_quote_is_in_its_source_and_every_section_is_a_line_of_it(model, sources):
    checked = 0
    for record in _records(model):
        if record.source not in sources:
            continue
        text, lines = sources[record.source]
        assert _norm(record.quote) in text, f"{record.where}: quote not found in {record.source}: {record.quote!r}"
        if record.source == "epidemiology":
            assert any(record.section in line for line in lines), f"{record.where}: no row {record.section!r}"
        else:
            assert record.section.strip() in lines, f"{record.where}: section {record.section!r} is not a line"
        checked += 1
    assert checked > 100  # the knowledge base really is sourced, not only assumptions


def test_assumptions_are_labelled_and_explained(model):
    for number in model.knowledge.numbers():
        if number.source in ("assumption", "structural"):
            assert number.scale == number.source and number.note and len(number.note) > 20, number.where


def test_share_of_numbers_from_the_articles_is_reported(model):
    numbers = list(model.knowledge.numbers())
    from_articles = sum(n.source in ("legs", "heels", "epidemiology") for n in numbers)
    # Not a quality bar: guards against a refactor silently dropping provenance.
    assert from_articles / len(numbers) > 0.2
