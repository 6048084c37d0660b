"""JSON Schemas (draft 2020-12) of numbdx's evidence and of its versioned result formats.

Every schema is generated from a :class:`~numbdx.Model`, so it names exactly the evidence, causes and
specialists of that model:

* :func:`evidence_schema`: what :func:`numbdx.infer` accepts. Every evidence name of the vocabulary is a
  property with its exact type (``true``/``false`` for a binary variable, one of the state names for a
  categorical one, a number of years from 0 to 130 for ``age``), each nullable (``null`` is unknown, as
  is a missing key), and no other name is allowed.
* :func:`result_schema`: the ``numbdx.differential/2`` format of :meth:`Differential.to_dict
  <numbdx.Differential.to_dict>`, triage and specialists included; :meth:`Differential.from_dict
  <numbdx.Differential.from_dict>` reads back anything it describes.
* :func:`triage_schema`, :func:`explanation_schema`, :func:`next_questions_schema`: the formats of
  ``Triage.to_dict()``, ``Explanation.to_dict()`` and ``NextQuestions.to_dict()``.

A schema checks types and names, not probability: evidence the model rules out (pregnancy in a man, a
numb heel with ``leg_numbness`` false) is valid JSON for the schema and is refused by numbdx itself with
:class:`~numbdx.ImpossibleEvidenceError`. The schemas use no ``$ref`` and no ``$id``, so each can be
embedded as it is in an OpenAPI 3.1 document (drop the ``$schema`` key there) or another schema.

>>> import jsonschema, numbdx
>>> jsonschema.validate({"age": 67, "smoking": True}, numbdx.evidence_schema())  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

from ._evidence import MAX_AGE
from ._explain import EXPLANATION_FORMAT, QUANTITIES
from ._model import CHIEF_COMPLAINT, Model
from ._priors import CAUSE_GROUPS, SOURCES
from ._result import DISCLAIMER, RESULT_FORMAT
from ._triage import LEVELS, TRIAGE_DISCLAIMER, TRIAGE_FORMAT

__all__ = [
    "DIALECT",
    "NEXT_QUESTIONS_FORMAT",
    "evidence_schema",
    "explanation_schema",
    "next_questions_schema",
    "result_schema",
    "triage_schema",
]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
NEXT_QUESTIONS_FORMAT = "numbdx.next_questions/1"
# TriageReason.kind: which rule fired (see numbdx._triage.triage); a new kind is a new result format.
TRIAGE_REASON_KINDS = ("red_flag_finding", "posterior_threshold", "physiological", "default")
# QuestionValue.kind (see numbdx._voi).
QUESTION_KINDS = ("context", "risk_factor", "finding", "test")
VOI_CRITERIA = ("entropy", "misclassification")
WEIGHT_DIRECTIONS = ("for", "against", "neutral")
# Explanation.to_dict writes non-finite numbers as strings (JSON has no infinity).
_NON_FINITE = ("inf", "-inf", "nan")


def _model(model: Model | None) -> Model:
    if model is not None:
        return model
    from ._api import load_model  # deferred: _api imports the engine, which this module does not need

    return load_model()


# --- small building blocks ---------------------------------------------------------------------------


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts ``null`` (``type`` lists and ``enum`` get a null member)."""
    out = dict(schema)
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    return out


def _text(nullable: bool = False) -> dict[str, Any]:
    return {"type": ["string", "null"]} if nullable else {"type": "string"}


def _probability(description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number", "minimum": 0, "maximum": 1}
    if description:
        out["description"] = description
    return out


def _json_float(description: str, **bounds: float) -> dict[str, Any]:
    """A number written by ``_explain._json_float``: finite numbers as numbers, others as strings."""
    return {"description": description, "anyOf": [{"type": "number", **bounds}, {"enum": list(_NON_FINITE)}]}


def _record(properties: dict[str, Any], *, description: str | None = None) -> dict[str, Any]:
    """A closed object: every property required, no other allowed (the to_dict formats are complete)."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
    if description:
        out["description"] = description
    return out


def _provenance() -> dict[str, Any]:
    """``source``/``section``/``quote``/``note``, as every sourced record of the knowledge base has."""
    return {
        "source": {"enum": list(SOURCES), "description": "The article or kind of source the record rests on"},
        "section": {**_text(True), "description": "Heading of the article the quoted words sit under"},
        "quote": {**_text(True), "description": "The words of the source the record rests on"},
        "note": {**_text(True), "description": "What numbdx reads into the words, where it is more"},
    }


def _identity() -> dict[str, Any]:
    return _record(
        {
            "package_version": {"type": "string", "description": "numbdx version that answered"},
            "priors_sha256": {
                "type": "string",
                "pattern": "^[0-9a-f]{64}(\\+sub[0-9]+)?$",
                "description": "SHA-256 of the knowledge-base files (+subN for a sub-model of N causes)",
            },
        },
        description="Identity of the model that answered",
    )


def _value_schema(model: Model, name: str) -> dict[str, Any]:
    """The JSON type of evidence ``name``'s value, without ``null``."""
    if name == "age":
        return {"type": "number", "minimum": 0, "maximum": int(MAX_AGE) if float(MAX_AGE).is_integer() else MAX_AGE}
    if name in model.upper_index:
        var = model.upper[model.upper_index[name]]
        return {"type": "boolean"} if var.states == ("False", "True") else {"type": "string", "enum": list(var.states)}
    if name == CHIEF_COMPLAINT:
        return {"type": "boolean"}
    finding = model.findings[model.finding_index[name]]
    if finding.kind == "binary":
        return {"type": "boolean"}
    return {"type": "string", "enum": list(finding.states)}


def _any_evidence_value() -> dict[str, Any]:
    return {"type": ["boolean", "string", "number"]}


def _normalised_evidence(model: Model) -> dict[str, Any]:
    """The evidence a result is conditioned on: known values only, the chief complaint always there."""
    return {
        "type": "object",
        "description": "The normalised evidence the answer is conditioned on, assumptions included",
        "properties": {name: _value_schema(model, name) for name in model.evidence_names()},
        "required": [CHIEF_COMPLAINT],
        "additionalProperties": False,
    }


def _names(values: Any, description: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "enum": list(values)}
    if description:
        out["description"] = description
    return out


def _document(title: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"$schema": DIALECT, "title": title, "description": description, **body}


# --- public schemas ------------------------------------------------------------------------------------


def evidence_schema(model: Model | None = None) -> dict[str, Any]:
    """JSON Schema of the evidence :func:`numbdx.infer` accepts for ``model``.

    Parameters
    ----------
    model
        The model whose vocabulary to describe; the shipped model by default.

    Returns
    -------
    dict
        A draft 2020-12 schema of an object with one optional, nullable property per evidence name:
        ``{"type": ["boolean", "null"]}`` for binary risk factors and findings (the chief complaint
        ``leg_numbness`` included), ``{"enum": [...states, null]}`` for ``sex`` and the categorical
        findings, a number from 0 to 130 (or null) for ``age``; ``additionalProperties`` is false.
        Each property carries the vocabulary's description and, as ``x-numbdx-kind`` and
        ``x-numbdx-group``, its kind and group.

    Notes
    -----
    JSON has no NaN; a client that writes one anyway (Python's ``json`` does) gets a number the schema's
    bounds do not catch (every comparison with NaN is false), but numbdx refuses it.
    """
    model = _model(model)
    vocabulary = model.vocabulary().set_index("name")
    properties: dict[str, Any] = {}
    for name in model.evidence_names():
        row = vocabulary.loc[name]
        value = _value_schema(model, name)
        allowed = (
            "true, false or null"
            if value["type"] == "boolean"
            else "a number of years from 0 to 130, or null"
            if name == "age"
            else ", ".join(json.dumps(s) for s in value["enum"]) + " or null"
        )
        properties[name] = {
            **_nullable(value),
            "description": f"{row['description']}. Allowed: {allowed} (null or missing: unknown).",
            "x-numbdx-kind": str(row["kind"]),
            "x-numbdx-group": str(row["group"]),
        }
    return _document(
        "numbdx evidence",
        "What is known about the patient: evidence names of the model's vocabulary mapped to values. A "
        "missing name or null is unknown; leg_numbness (the chief complaint) is assumed true unless given. "
        "Combinations the model rules out (pregnancy in a man, features of the numbness with "
        "leg_numbness false) pass the schema and are refused by numbdx (ImpossibleEvidenceError).",
        {"type": "object", "properties": properties, "additionalProperties": False},
    )


def triage_schema(model: Model | None = None, *, standalone: bool = True) -> dict[str, Any]:
    """JSON Schema of ``Triage.to_dict()`` (format ``numbdx.triage/1``) for ``model``.

    Parameters
    ----------
    model
        The model; the shipped one by default (its findings are the possible red-flag findings).
    standalone
        Add ``$schema``, ``title`` and ``description`` (False: the bare subschema, for embedding).
    """
    model = _model(model)
    reason = _record(
        {
            "level": _names(LEVELS, "The level this rule asks for"),
            "kind": _names(TRIAGE_REASON_KINDS, "Which kind of rule fired"),
            "text": {"type": "string", "description": "What fired, in words"},
            **_provenance(),
            "rule": {"type": "string", "description": "The knowledge-base record that fired"},
        }
    )
    body = _record(
        {
            "format": {"const": TRIAGE_FORMAT},
            "level": _names(LEVELS, "How urgently to seek care: the most urgent level of any rule that fired"),
            "reasons": {"type": "array", "items": reason, "minItems": 1, "description": "Most urgent first"},
            "red_flag_findings": {
                "type": "array",
                "items": _names(model.evidence_names()),
                "uniqueItems": True,
                "description": "Evidence names of the red-flag findings present",
            },
            "advice": {"type": "string", "description": "What to do, in plain words; never a diagnosis"},
            "disclaimer": {"const": TRIAGE_DISCLAIMER},
        }
    )
    if not standalone:
        return body
    return _document("numbdx triage", "How urgently to seek care, with cited reasons (numbdx.triage/1).", body)


def result_schema(model: Model | None = None) -> dict[str, Any]:
    """JSON Schema of :meth:`Differential.to_dict` (format ``numbdx.differential/2``) for ``model``.

    :meth:`Differential.from_dict <numbdx.Differential.from_dict>` rebuilds a differential from any
    document the schema accepts (its ``format`` is the constant ``"numbdx.differential/2"``; a new
    layout is a new format).

    Parameters
    ----------
    model
        The model whose causes, specialists and vocabulary to describe; the shipped one by default.

    Returns
    -------
    dict
        A draft 2020-12 schema: ``format``, ``causes`` (one record per cause of the model: name, label,
        group, explains, posterior, prior, red_flag), the normalised ``evidence``, ``assumed``, ``model``
        (identity), ``method``, ``error_bound``, ``triage`` (see :func:`triage_schema`, or null),
        ``specialists`` and ``disclaimer``. Every object is closed.
    """
    model = _model(model)
    causes = model.cause_names
    cause = _record(
        {
            "name": _names(causes),
            "label": {"type": "string"},
            "group": _names(CAUSE_GROUPS),
            "explains": _probability("P(present and producing the leg numbness | evidence): the ranking"),
            "posterior": _probability("P(present | evidence)"),
            "prior": _probability("P(present | context and risk factors in the evidence)"),
            "red_flag": {"type": "boolean", "description": "A danger listed whatever its probability"},
        }
    )
    specialist_names = [s["name"] for s in model.knowledge.actions.get("specialist", ())]
    specialist_cause = _record(
        {
            "name": _names(causes),
            "label": {"type": "string"},
            "share": _probability("This cause's part of the specialist's share"),
            **_provenance(),
        }
    )
    specialist = _record(
        {
            "name": _names(specialist_names) if specialist_names else {"type": "string"},
            "label": {"type": "string"},
            "share": _probability("Share of the differential this specialist handles (shares sum to 1)"),
            "causes": {"type": "array", "items": specialist_cause, "minItems": 1},
            **_provenance(),
        }
    )
    body = _record(
        {
            "format": {"const": RESULT_FORMAT},
            "causes": {
                "type": "array",
                "items": cause,
                "minItems": len(causes),
                "maxItems": len(causes),
                "description": "Every cause, highest explains first, then posterior, then name",
            },
            "evidence": _normalised_evidence(model),
            "assumed": {
                "type": "array",
                "items": _names([CHIEF_COMPLAINT]),
                "uniqueItems": True,
                "description": "Evidence the answer assumed rather than was given",
            },
            "model": _identity(),
            "method": _names(("exact", "importance_sampling"), "How the answer was computed"),
            "error_bound": {
                "type": "number",
                "minimum": 0,
                "description": "Bound on the absolute error of any probability",
            },
            "triage": {"anyOf": [{"type": "null"}, triage_schema(model, standalone=False)]},
            "specialists": {"type": "array", "items": specialist, "description": "Largest share first"},
            "disclaimer": {"const": DISCLAIMER},
        }
    )
    return _document(
        "numbdx differential",
        f"A ranked differential of the causes of leg numbness ({RESULT_FORMAT}); a ranking for a clinician "
        "or a triage service, never a diagnosis.",
        body,
    )


def explanation_schema(model: Model | None = None) -> dict[str, Any]:
    """JSON Schema of ``Explanation.to_dict()`` (format ``numbdx.explanation/1``) for ``model``.

    Non-finite numbers (a weight of ``+inf`` when one item alone makes a cause certain) are the strings
    ``"inf"``, ``"-inf"`` (``"nan"``), as :meth:`Explanation.to_dict` writes them.
    """
    model = _model(model)
    weight = _record(
        {
            "item": _names(model.evidence_names(), "The evidence name"),
            "value": {**_any_evidence_value(), "description": "Its normalised value"},
            "log_odds_change": _json_float("logit P(c | e) - logit P(c | e without the item)"),
            "probability_change": _json_float("P(c | e) - P(c | e without the item)", minimum=-1, maximum=1),
            "direction": _names(WEIGHT_DIRECTIONS),
            "probability_without": _json_float("P(c | e without the item)", minimum=0, maximum=1),
            "assumed": {"type": "boolean"},
            "log_odds_error": _json_float("Bound on the rounding error of log_odds_change", minimum=0),
        }
    )
    cause = _record(
        {
            "cause": _names(model.cause_names),
            "label": {"type": "string"},
            "probability": _json_float("P(cause | e) in the explanation's quantity", minimum=0, maximum=1),
            "weights": {"type": "array", "items": weight, "description": "Largest |log_odds_change| first"},
        }
    )
    body = _record(
        {
            "format": {"const": EXPLANATION_FORMAT},
            "quantity": _names(QUANTITIES),
            "definition": {"type": "string"},
            "evidence": _normalised_evidence(model),
            "assumed": {"type": "array", "items": _names([CHIEF_COMPLAINT]), "uniqueItems": True},
            "error_bound": _json_float("Bound on the rounding error of any probability", minimum=0),
            "model": _identity(),
            "causes": {"type": "array", "items": cause},
        }
    )
    return _document(
        "numbdx explanation",
        f"Each evidence item's weight for or against each cause ({EXPLANATION_FORMAT}).",
        body,
    )


def next_questions_schema(model: Model | None = None) -> dict[str, Any]:
    """JSON Schema of ``NextQuestions.to_dict()`` (format ``numbdx.next_questions/1``) for ``model``.

    Numbers that are not finite are ``null`` there (``numbdx._voi`` writes them so).
    """
    model = _model(model)
    number = {"type": ["number", "null"]}
    answer = _record(
        {
            "value": {**_nullable(_any_evidence_value()), "description": "The evidence value to give"},
            "label": {"type": "string"},
            "probability": {**number, "minimum": 0, "maximum": 1, "description": "P(this answer | evidence)"},
            "uncertainty": {**number, "description": "Uncertainty about the causes after this answer"},
            "shift": {**number, "description": "Largest change of any cause's probability"},
            "leader": _nullable(_names(model.cause_names)),
        }
    )
    question = _record(
        {
            "name": _names(model.evidence_names()),
            "label": {"type": "string"},
            "kind": _names(QUESTION_KINDS),
            "group": {"type": "string"},
            "value": {**number, "description": "Value of information, in the criterion's units"},
            "error_bound": {**number, "minimum": 0},
            "answered": {"type": "boolean"},
            "max_shift": number,
            "answers": {"type": "array", "items": answer},
        }
    )
    body = _record(
        {
            "format": {"const": NEXT_QUESTIONS_FORMAT},
            "questions": {"type": "array", "items": question, "description": "Highest value first"},
            "criterion": _names(VOI_CRITERIA),
            "units": {"type": "string"},
            "uncertainty": number,
            "should_stop": {"type": "boolean"},
            "stop_reason": {"type": "string"},
            "top": {"type": "array", "items": _names(model.cause_names)},
            "considered": {"type": "integer", "minimum": 0},
            "skipped": {"type": "array", "items": _names(model.evidence_names())},
            "stop_rule": _record(
                {"top": {"type": "integer", "minimum": 1}, "threshold": number, "min_probability": number}
            ),
            "evidence": _normalised_evidence(model),
            "model": _identity(),
        }
    )
    return _document(
        "numbdx next questions",
        f"The unanswered questions worth asking next and whether to stop ({NEXT_QUESTIONS_FORMAT}).",
        body,
    )
