"""The JSON Schemas of the evidence and of the result formats: generated from the model, exact, and in
agreement with what numbdx itself accepts and writes."""

from __future__ import annotations

import copy
import json
import math

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbdx
from numbdx import Differential, EvidenceError
from numbdx._evidence import normalise
from numbdx._result import RESULT_FORMAT
from numbdx._schema import (
    DIALECT,
    evidence_schema,
    explanation_schema,
    next_questions_schema,
    result_schema,
    triage_schema,
)
from numbdx._voi import next_questions

from .strategies import evidence

MODEL = numbdx.load_model()
EVIDENCE = jsonschema.Draft202012Validator(evidence_schema(MODEL))
RESULT = jsonschema.Draft202012Validator(result_schema(MODEL))
TYPICAL = {"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True, "numbness_side": "left"}


def _valid(validator: jsonschema.Draft202012Validator, document: object) -> bool:
    return not list(validator.iter_errors(document))


@pytest.mark.parametrize(
    "build", [evidence_schema, result_schema, triage_schema, explanation_schema, next_questions_schema]
)
def test_every_schema_is_a_closed_draft_2020_12_schema_without_references(build):
    schema = build(MODEL)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["additionalProperties"] is False
    text = json.dumps(schema, allow_nan=False)  # plain JSON, embeddable in an OpenAPI 3.1 document
    assert "$ref" not in text and "$id" not in text


def test_evidence_schema_has_every_vocabulary_name_with_its_exact_type_and_description():
    schema = evidence_schema(MODEL)
    vocabulary = MODEL.vocabulary().set_index("name")
    assert list(schema["properties"]) == list(MODEL.evidence_names())
    for name, prop in schema["properties"].items():
        assert prop["description"].startswith(vocabulary.loc[name, "description"])
        assert prop["x-numbdx-kind"] == vocabulary.loc[name, "kind"]
        assert None in prop.get("enum", [None]) and "null" in prop["type"]  # every value may be unknown
    props = schema["properties"]
    assert props["age"]["type"] == ["number", "null"] and (props["age"]["minimum"], props["age"]["maximum"]) == (0, 130)
    assert props["sex"]["enum"] == ["female", "male", None]
    assert props["numbness_side"]["enum"] == ["left", "right", "both", None]
    assert props["numbness_onset"]["enum"] == ["sudden", "gradual", None]
    for name in ("diabetes", "leg_numbness", "numb_heel", "emg_abnormal"):
        assert props[name]["type"] == ["boolean", "null"] and "enum" not in props[name]


@given(evidence(chief=None))
def test_evidence_schema_accepts_every_valid_evidence(ev):
    assert _valid(EVIDENCE, ev)
    assert _valid(EVIDENCE, dict.fromkeys(ev))  # all unknown


@pytest.mark.parametrize(
    "ev",
    [
        {"numb_heal": True},
        {"Numb_heel": True},
        {"tingling": "yes"},
        {"tingling": 1},
        {"tingling": "True"},
        {"age": -1},
        {"age": 130.5},
        {"age": True},
        {"age": "40"},
        {"age": math.inf},
        {"sex": "F"},
        {"numbness_side": "none"},
        {"numbness_side": 0},
        {"numbness_onset": True},
        {"diabetes": [True]},
        {"diabetes": {}},
    ],
)
def test_evidence_schema_rejects_unknown_names_and_bad_values_as_numbdx_does(ev):
    assert not _valid(EVIDENCE, ev)
    with pytest.raises(EvidenceError):
        numbdx.infer(ev)


_ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 200),
    st.floats(-10, 200, allow_nan=False),
    st.sampled_from(["female", "male", "left", "right", "both", "sudden", "gradual", "constant", "attacks", "yes", ""]),
)


@given(st.sampled_from([*MODEL.evidence_names(), "numb_heal", "age_years"]), _ANY_VALUE)
def test_the_schema_accepts_a_single_value_exactly_when_numbdx_does(name, value):
    # one name at a time: no combination can be impossible, so acceptance is a question of type alone
    try:
        normalise(MODEL, {name: value})
        accepted = True
    except EvidenceError:
        accepted = False
    assert _valid(EVIDENCE, {name: value}) == accepted


@given(evidence(max_findings=6, chief=None))
def test_result_schema_validates_infer_output_and_from_dict_reads_it_back(ev):
    data = numbdx.infer(ev).to_dict()
    document = json.loads(json.dumps(data, allow_nan=False))  # what a client receives
    errors = [e.message for e in RESULT.iter_errors(document)]
    assert not errors
    back = Differential.from_dict(document)
    assert back.to_dict() == data
    assert back == numbdx.infer(ev)


def test_result_schema_describes_a_sampled_answer_too():
    data = numbdx.infer(TYPICAL, method="sampling").to_dict()
    assert data["method"] == "importance_sampling"
    assert _valid(RESULT, data)


def test_result_schema_pins_the_format_and_the_layout():
    good = numbdx.infer(TYPICAL).to_dict()
    assert good["format"] == RESULT_FORMAT and _valid(RESULT, good)

    def broken(change):
        data = copy.deepcopy(good)
        change(data)
        return data

    bad = [
        broken(lambda d: d.update(format="numbdx.differential/1")),
        broken(lambda d: d.update(extra=1)),
        broken(lambda d: d.pop("triage")),
        broken(lambda d: d["causes"].pop()),
        broken(lambda d: d["causes"][0].update(posterior=1.5)),
        broken(lambda d: d["causes"][0].update(name="no_such_cause")),
        broken(lambda d: d["evidence"].update(numb_heal=True)),
        broken(lambda d: d["evidence"].pop("leg_numbness")),
        broken(lambda d: d["triage"].update(level="whenever")),
        broken(lambda d: d["triage"]["reasons"][0].update(source="a blog")),
        broken(lambda d: d["specialists"][0].update(share=-0.1)),
        broken(lambda d: d["model"].update(priors_sha256="abc")),
        broken(lambda d: d.update(disclaimer="a diagnosis")),
    ]
    for document in bad:
        assert not _valid(RESULT, document)
    triage_free = broken(lambda d: d.update(triage=None))
    assert _valid(RESULT, triage_free)
    assert Differential.from_dict(triage_free).triage is None


def test_triage_explanation_and_next_questions_schemas_validate_their_outputs():
    stroke_like = {"age": 70, "one_sided_paralysis": True, "speech_disturbance": True}
    for ev in (TYPICAL, stroke_like, {"pregnancy": False, "sex": "female", "age": 30}, {}):
        triage = numbdx.infer(ev).triage.to_dict()
        jsonschema.validate(triage, triage_schema(MODEL), cls=jsonschema.Draft202012Validator)
        explanation = json.loads(json.dumps(numbdx.explain(ev).to_dict(), allow_nan=False))
        jsonschema.validate(explanation, explanation_schema(MODEL), cls=jsonschema.Draft202012Validator)
    questions = next_questions(TYPICAL, 5, include_tests=True).to_dict()
    jsonschema.validate(questions, next_questions_schema(MODEL), cls=jsonschema.Draft202012Validator)


def test_explanation_schema_accepts_infinite_weights_as_strings():
    # without pregnancy, pregnancy compression is impossible: its weight is -inf, written "-inf"
    data = numbdx.explain({"sex": "female", "age": 30, "pregnancy": False}, causes="pregnancy_compression").to_dict()
    weights = {w["item"]: w["log_odds_change"] for w in data["causes"][0]["weights"]}
    assert weights["pregnancy"] == "-inf"
    jsonschema.validate(data, explanation_schema(MODEL), cls=jsonschema.Draft202012Validator)


def test_schemas_follow_the_model_they_are_made_for():
    sub = MODEL.submodel(["stroke", "thrombosis"])
    schema = evidence_schema(sub)
    assert list(schema["properties"]) == list(sub.evidence_names())
    assert len(schema["properties"]) < len(MODEL.evidence_names())
    document = numbdx.infer({"age": 70}, model=sub).to_dict()
    sub_result = result_schema(sub)
    assert _valid(jsonschema.Draft202012Validator(sub_result), document)
    assert not _valid(RESULT, document)  # three causes are not the full model's 33
    assert evidence_schema() == evidence_schema(MODEL)  # the shipped model by default
