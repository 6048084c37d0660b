"""Loading and validating ``priors/``: malformed files fail loudly, and the compiled tables say what
the records say."""

from __future__ import annotations

import math

import numpy as np
import pytest

import numbdx
from numbdx import PriorsError
from numbdx._priors import load_knowledge_base

from .conftest import edit_file


@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        ("context.toml", 'reference = "male"', 'reference = "female"', ["context.toml", "[sex]", "reference"]),
        ("risk_factors.toml", 'name = "smoking"', 'name = "diabetes"', ["risk_factors.toml", "'diabetes'", "twice"]),
        ("findings.toml", 'kind = "side"', 'kind = "sideways"', ["findings.toml", "numbness_side", "kind"]),
        ("findings.toml", "range = [0.01, 0.15]", "range = [0.2, 0.3]", ["findings.toml", "leak", "outside its range"]),
        (
            "findings.toml",
            'scale = "assumption"',
            'scale = "mosteller:often"',
            ["findings.toml", "scale 'mosteller:often'"],
        ),
        ("causes.toml", 'group = "spinal"', 'group = "spine"', ["causes.toml", "group"]),
        ("links/neuro.toml", 'finding = "', 'finding = "no_such_', ["neuro.toml", "unknown finding"]),
        ("constraints.toml", 'kind = "', 'kind = "bottom', ["constraints.toml", "kind"]),
        ("actions.toml", 'tier = "', 'tier = "free', ["actions.toml", "tier"]),
    ],
)
def test_malformed_file_names_file_record_and_problem(priors_copy, file, old, new, expected):
    edit_file(priors_copy / file, old, new)
    with pytest.raises(PriorsError) as info:
        load_knowledge_base(priors_copy)
    for part in expected:
        assert part in str(info.value), (part, str(info.value))


def test_odds_ratio_below_one_is_rejected(priors_copy):
    text = (priors_copy / "causes.toml").read_text()
    start = text.index("odds_ratio = { value = ")
    end = text.index("}", start)
    (priors_copy / "causes.toml").write_text(
        text[:start]
        + 'odds_ratio = { value = 0.5, range = [0.3, 0.8], source = "assumption", scale = "assumption", '
        + 'note = "protective factor for this test" }'
        + text[end + 1 :]
    )
    with pytest.raises(PriorsError, match=r"causes.toml: odds ratio .* must be >= 1"):
        load_knowledge_base(priors_copy)


def test_missing_file_and_bad_toml(priors_copy):
    (priors_copy / "findings.toml").write_text("[[finding]\nname = ")
    with pytest.raises(PriorsError, match=r"findings\.toml: not valid TOML"):
        load_knowledge_base(priors_copy)
    (priors_copy / "findings.toml").unlink()
    with pytest.raises(PriorsError, match=r"findings\.toml: file is missing"):
        load_knowledge_base(priors_copy)


def test_number_without_source_is_rejected(priors_copy):
    edit_file(
        priors_copy / "context.toml",
        'source = "assumption", scale = "assumption", note = "even split; used only when sex is not given" }',
        'scale = "assumption" }',
    )
    with pytest.raises(PriorsError, match=r"context\.toml: sex 'female': p: source must be one of"):
        load_knowledge_base(priors_copy)


def test_identity_changes_with_the_priors(priors_copy, model):
    assert load_knowledge_base(priors_copy).digest == model.knowledge.digest
    edit_file(priors_copy / "context.toml", "value = 0.16", "value = 0.17")
    edit_file(priors_copy / "context.toml", "value = 0.27", "value = 0.26")
    assert load_knowledge_base(priors_copy).digest != model.knowledge.digest


def test_cause_tables_follow_the_logistic_odds_ratio_form(model):
    """Hand computation from the records, for every cause and every parent configuration."""
    kb = model.knowledge
    for record in kb.causes:
        node = model.causes[model.cause_index[record.name]]
        names = [model.upper[p].name for p in node.parents]
        for idx in np.ndindex(*node.p_present.shape):
            state = {n: model.upper[model.upper_index[n]].states[i] for n, i in zip(names, idx)}
            if any(state[r] == "False" for r in record.requires):
                assert node.p_present[idx] == 0
                continue
            odds = record.baseline.value / (1 - record.baseline.value)
            for o in record.odds_ratios:
                kind, _, value = o.factor.partition(":")
                if (value and state[kind] == value) or (not value and state[o.factor] == "True"):
                    odds *= o.odds_ratio.value
            assert node.p_present[idx] == pytest.approx(odds / (1 + odds), rel=1e-12)


def test_pregnancy_is_impossible_for_males_and_outside_childbearing_years(model):
    var = model.upper[model.upper_index["pregnancy"]]
    age, sex = model.upper[0], model.upper[1]
    for a, band in enumerate(age.states):
        for s, sx in enumerate(sex.states):
            p = var.table[a, s, 1] if var.parents == (0, 1) else math.nan
            if sx == "male" or band in ("0_14", "50_64", "65_plus"):
                assert p == 0, (band, sx)
            else:
                assert p > 0, (band, sx)


def test_every_concept_of_the_issue_is_in_the_model(model):
    names = set(model.evidence_names()) | set(model.cause_names)
    for required in [
        "age",
        "sex",
        "diabetes",
        "pregnancy",
        "smoking",
        "alcohol_abuse",
        "overweight",
        "high_cholesterol",
        "lumbosacral_osteochondrosis",
        "stroke",
        "raynauds_disease",
        "thrombosis",
        "mortons_neuroma",
        "heel_spur_fasciitis",
        "positional_compression",
        "other_cause",
        "numbness_side",
        "numbness_onset",
        "numbness_course",
        "toe_thickening_3_4",
        "angiography_abnormal",
        "emg_abnormal",
    ]:
        assert required in names
    assert len(model.causes) == 33 and len(model.upper) - 2 == 18


def test_loading_from_a_priors_folder_argument(priors_copy):
    assert numbdx.load_model(priors_copy).knowledge.directory == priors_copy


def test_the_parse_cache_holds_every_priors_file_as_tomllib_parses_it():
    """``priors/parsed.jsonl`` (``_priors.PARSED_CACHE``) spares the first answer tomllib's parse. It
    must hold each TOML file of the folder, parsed as tomllib parses it, and nothing else."""
    import hashlib
    import json
    import tomllib

    from numbdx import _priors

    directory = _priors.priors_dir()
    fix = 'after editing priors/, run: python -c "import numbdx._priors as p; p.write_parse_cache()"'
    lines = (directory / _priors.PARSED_CACHE).read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["format"] == _priors.PARSED_CACHE_FORMAT
    cached = {entry["file"]: entry for entry in map(json.loads, lines[1:])}
    files = sorted(directory.rglob("*.toml"))
    assert sorted(cached) == [path.relative_to(directory).as_posix() for path in files], fix
    for path in files:
        entry = cached[path.relative_to(directory).as_posix()]
        raw = path.read_bytes()
        assert entry["sha256"] == hashlib.sha256(raw).hexdigest(), (path.name, fix)
        assert entry["data"] == tomllib.loads(raw.decode("utf-8")), path.name
    assert set(_priors._parsed_lines()) == {entry["sha256"] for entry in cached.values()}


def test_an_edited_file_is_read_from_its_toml_not_from_the_parse_cache(priors_copy, monkeypatch):
    """The cache is keyed by each file's content: an edited file misses it and is parsed from its
    TOML (the edit is what loads), while the unedited ones are read from it."""
    import tomllib

    parsed = []
    real = tomllib.loads
    monkeypatch.setattr(tomllib, "loads", lambda text: parsed.append(text) or real(text))
    old_label = "Osteochondrosis of the lumbosacral spine"
    edit_file(priors_copy / "causes.toml", f'label = "{old_label}"', 'label = "Edited in the copy"')
    kb = load_knowledge_base(priors_copy)
    assert kb.causes[0].label == "Edited in the copy"
    assert len(parsed) == 1 and "Edited in the copy" in parsed[0]
    assert load_knowledge_base().causes[0].label == old_label  # the shipped folder, from the cache


def test_a_parse_cache_of_another_format_is_ignored(tmp_path):
    from numbdx import _priors

    path = tmp_path / "parsed.jsonl"
    path.write_text('{"format": 999}\n{"sha256": "' + "0" * 64 + '", "file": "x.toml", "data": {}}\n')
    assert _priors._read_parsed_lines(path, 0, 0) == {}
    path.write_text("not json\n")
    assert _priors._read_parsed_lines(path, 1, 0) == {}
