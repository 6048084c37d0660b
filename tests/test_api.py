"""The public API: errors under one base class, the chief-complaint assumption, the result object,
threads, and a light import."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import numbdx
from numbdx import (
    ImpossibleEvidenceError,
    InvalidEvidenceValueError,
    NumbdxError,
    UnknownEvidenceError,
)

from .conftest import REPO


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownEvidenceError) as info:
        numbdx.infer({"numb_heal": True})
    assert "numb_heel" in info.value.suggestions
    assert "numb_heel" in str(info.value)
    assert isinstance(info.value, NumbdxError)


@pytest.mark.parametrize(
    "evidence, words",
    [
        ({"diabetes": "yes"}, "expects True or False"),
        ({"diabetes": 1}, "expects True or False"),
        ({"numbness_side": "up"}, "expects one of 'left', 'right', 'both'"),
        ({"numbness_side": 0}, "expects one of"),  # never read as a state index
        ({"numbness_side": "none"}, "expects one of"),
        ({"sex": "F"}, "expects one of 'female', 'male'"),
        ({"age": "40"}, "expects a number of years"),
        ({"age": True}, "expects a number of years"),
        ({"age": -1}, "between 0 and 130"),
        ({"age": float("inf")}, "between 0 and 130"),
        ({"age": float("nan")}, "NaN"),
        ({"diabetes": float("nan")}, "NaN"),
        ({"swelling": np.float64("nan")}, "NaN"),
    ],
)
def test_invalid_values_are_errors_that_name_the_problem(evidence, words):
    with pytest.raises(InvalidEvidenceValueError, match=words):
        numbdx.infer(evidence)


def test_evidence_must_be_a_mapping():
    with pytest.raises(InvalidEvidenceValueError, match="mapping"):
        numbdx.infer([("diabetes", True)])


@pytest.mark.parametrize(
    "evidence, words",
    [
        ({"sex": "male", "pregnancy": True}, "pregnancy=True is impossible for sex='male'"),
        ({"age": 70, "pregnancy": True}, "pregnancy=True is impossible for age='65_plus'"),
        ({"age": 8, "sex": "female", "pregnancy": True}, "impossible"),
        ({"leg_numbness": False, "numb_heel": True}, "numb_heel=True describes the leg numbness"),
        ({"leg_numbness": False, "numbness_side": "left"}, "contradicts leg_numbness=False"),
        ({"leg_numbness": False, "numbness_onset": "sudden"}, "describes the leg numbness"),
    ],
)
def test_impossible_evidence_is_an_error(evidence, words):
    with pytest.raises(ImpossibleEvidenceError, match=words):
        numbdx.infer(evidence)


def test_chief_complaint_is_assumed_and_reported():
    d = numbdx.infer({"numb_heel": True})
    assert d.assumed == ("leg_numbness",)
    assert d.evidence["leg_numbness"] is True
    given = numbdx.infer({"numb_heel": True, "leg_numbness": True})
    assert given.assumed == ()
    assert given.posteriors() == d.posteriors()


def test_no_leg_numbness_is_allowed_and_implies_gated_findings_absent():
    d = numbdx.infer({"leg_numbness": False, "back_pain": True, "numb_heel": False})
    assert d.assumed == ()
    assert d["other_cause"].posterior < 1
    assert d.posteriors() == numbdx.infer({"leg_numbness": False, "back_pain": True}).posteriors()


def test_none_means_unknown():
    assert numbdx.infer({"diabetes": None}).posteriors() == numbdx.infer({}).posteriors()


def test_differential_surface():
    d = numbdx.infer({"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True})
    keys = [(c.explains, c.posterior) for c in d.causes]
    assert keys == sorted(keys, reverse=True)
    assert all(c.explains <= c.posterior + 1e-12 for c in d.causes)  # producing the numbness implies present
    assert [c.name for c in d.top(3)] == [c.name for c in d.causes[:3]]
    assert d.rank(d.causes[0].name) == 1
    assert d.model_identity["package_version"] == numbdx.__version__
    assert len(d.model_identity["priors_sha256"]) == 64
    frame = d.to_frame()
    assert list(frame.index) == [c.name for c in d.causes]
    assert {"posterior", "prior", "rank", "red_flag"} <= set(frame.columns)
    assert {c.name for c in d.red_flags} >= {"stroke", "thrombosis"}
    text = repr(d)
    assert "not a diagnosis" in text and "stroke" in text  # red flags shown even when ranked low
    with pytest.raises(ValueError):
        d.top(-1)
    with pytest.raises(KeyError, match="no cause named"):
        d["flu"]


def test_to_dict_is_json_and_round_trips():
    d = numbdx.infer({"age": 30.5, "sex": "female", "pregnancy": True, "numbness_side": "left"})
    data = json.loads(json.dumps(d.to_dict()))
    again = numbdx.Differential.from_dict(data)
    assert again == d
    assert again.evidence["age"] == 30.5 and again.assumed == ("leg_numbness",)
    with pytest.raises(NumbdxError, match="format"):
        numbdx.Differential.from_dict({"causes": []})


def test_html_repr_escapes_and_never_raises():
    d = numbdx.infer({})
    html = d._repr_html_()
    assert "<table>" in html and "lumbosacral" in html.lower()
    object.__setattr__(d.causes[0], "label", "<script>alert(1)</script>")
    assert "<script>" not in d._repr_html_()
    d.causes = None  # broken object: falls back, does not raise
    assert d._repr_html_().startswith("<pre>")


def _model_fingerprint(model):
    arrays = [v.table for v in model.upper] + [c.p_present for c in model.causes]
    arrays += [a for f in model.findings for a in (f.pattern_probs, f.leak_probs, f.subset_mult)]
    return [a.tobytes() for a in arrays]


def test_infer_does_not_mutate_the_shared_model(model):
    before = _model_fingerprint(model)
    for ev in ({}, {"numb_heel": True, "sex": "female"}, {"leg_numbness": False}):
        numbdx.infer(ev)
    assert _model_fingerprint(model) == before


def test_safe_from_many_threads():
    cases = [
        {"age": a, "sex": s, "numb_toes": t, "back_pain": not t}
        for a in (25, 45, 70)
        for s in ("female", "male")
        for t in (True, False)
    ]
    expected = [numbdx.infer(ev).posteriors() for ev in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda ev: numbdx.infer(ev).posteriors(), cases * 20))
    assert results == expected * 20


def test_import_is_light():
    code = (
        "import sys, numbdx; d = numbdx.infer({'numb_heel': True}); "
        "assert 'pgmpy' not in sys.modules, 'pgmpy imported'; "
        "assert 'pandas' not in sys.modules, 'pandas imported'; "
        # the knowledge base's parse cache (priors/parsed.jsonl) spares the TOML parser
        "assert 'tomllib' not in sys.modules, 'tomllib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_vocabulary_lists_every_accepted_name(model):
    vocab = numbdx.vocabulary()
    assert list(vocab.columns) == ["name", "kind", "group", "states", "description"]
    assert vocab["name"].is_unique
    assert set(vocab["name"]) == set(model.evidence_names())
    assert vocab["description"].str.len().min() > 2
    for row in vocab.itertuples():
        value = {"age": 40, "sex": "female"}.get(
            row.name, True if row.states == "True, False" else row.states.split(", ")[0]
        )
        numbdx.infer({row.name: value})  # every documented name and state is accepted


def test_readme_documents_every_evidence_name(model):
    readme = (REPO / "README.md").read_text()
    missing = [name for name in model.evidence_names() if f"`{name}`" not in readme]
    assert not missing, f"README vocabulary is out of date: {missing}"


def test_with_decisions_gives_a_new_differential_with_its_own_evidence():
    d = numbdx.infer({"age": 50, "numb_toes": True})
    attached = d.with_decisions(None, ())
    assert attached is not d and attached.triage is None and d.triage is not None
    assert [c.name for c in attached] == [c.name for c in d] and attached.posteriors() == d.posteriors()
    attached.evidence["numb_heel"] = True
    attached.model_identity["priors_sha256"] = "changed"
    assert "numb_heel" not in d.evidence and d.model_identity["priors_sha256"] != "changed"
