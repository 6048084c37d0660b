"""numbdx as an HTTP service: a FastAPI application over :func:`numbdx.infer` and its companions.

``create_app()`` builds the application; ``serve()`` runs it with uvicorn. Endpoints (JSON in, JSON out;
the OpenAPI document at ``/openapi.json`` describes every body with the schemas of ``numbdx._schema``):

========================  ===============================================================================
``POST /infer``           ``{"evidence": {...}, "method": "auto"}`` -> ``Differential.to_dict()``
``POST /triage``          same body -> ``Triage.to_dict()`` (level, cited reasons, advice, disclaimer)
``POST /next-questions``  ``{"evidence": {...}, "n": 5}`` -> ``NextQuestions.to_dict()``
``POST /explain``         ``{"evidence": {...}, "causes": [...]}`` -> ``Explanation.to_dict()``
``GET /vocabulary``       every evidence name with its kind, group, JSON type, states and description
``GET /model``            the model's identity, sizes, causes and sources, and the service's limits
``GET /health``           ``{"status": "ok", ...}`` once the model is loaded
========================  ===============================================================================

Bad input never gets a 500: a body over ``max_body_bytes`` gets 413 before it is parsed; a body that is
not JSON, does not fit the request schema, or that numbdx refuses (impossible evidence, past the
inference limits) gets 422 with a ``detail`` list naming each bad field, in FastAPI's error layout::

    {"detail": [{"type": "unknown_evidence", "loc": ["body", "evidence", "numb_heal"],
                 "msg": "unknown evidence name 'numb_heal'; did you mean 'numb_heel'?", ...}]}

This module imports FastAPI, so ``import numbdx`` never does: only importing the service does.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import jsonschema
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from ._api import explain, infer, load_model
from ._engine import warm_kernels
from ._exceptions import (
    ImpossibleEvidenceError,
    InferenceLimitError,
    InvalidEvidenceValueError,
    NumbdxError,
    UnknownCauseError,
    UnknownEvidenceError,
)
from ._explain import QUANTITIES
from ._model import CHIEF_COMPLAINT, Model
from ._schema import (
    VOI_CRITERIA,
    evidence_schema,
    explanation_schema,
    next_questions_schema,
    result_schema,
    triage_schema,
)

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_POSITIVE_LIMITS", "create_app", "serve"]

DEFAULT_MAX_BODY_BYTES = 65536
# Positive findings (binary findings given true, the first state of a categorical finding, any side)
# are what inference cost grows with. /infer and /triage answer exactly up to 20 in well under a
# second (random sets of 20, one core, numpy alone: median 45 ms, and 146 ms, at most 0.55 s, for
# findings of three causes or more; faster with the numba kernels), and evidence past the exact
# method's work limit is refused in about 40 ms and sampled in about 2 s (the 21 positives of
# tests/test_sampling.py: 1.8 s). Explaining re-infers once per evidence item, and ranking the next
# questions once per possible answer, so a few positives more multiply their time. The service
# refuses (422) evidence past these counts so that one request cannot hold a worker for long: the
# worst of 8 random evidence sets at each limit took about 2 s on the 2-core reference machine
# (measured at 12 positives for /infer and /triage before exact answers reached 20). None: no limit
# beyond numbdx's own.
DEFAULT_POSITIVE_LIMITS: dict[str, int | None] = {
    "/infer": 20,
    "/triage": 20,
    "/explain": 8,
    "/next-questions": 6,
}
METHODS = ("auto", "exact", "sampling")
MAX_QUESTIONS = 100
# A body full of unknown names must not make the error answer itself expensive (difflib per name).
MAX_ERRORS = 20
_SUGGEST_MAX_LENGTH = 64
_SOURCE_TITLES = {
    "legs": "Article: Numbness of the legs - cause, diagnosis, treatment",
    "heels": "Article: Why do the heels on my feet go numb and how to treat numbness?",
    "epidemiology": "Published epidemiological figures (each number names its paper in 'citation')",
    "assumption": "Labelled modelling assumptions where the articles are silent ('note' says why)",
    "structural": "Logical zeros and ones (a man cannot be pregnant)",
}
_JSON_TYPES = ("application/json",)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# --- JSON in and out -----------------------------------------------------------------------------------


class _JSON(JSONResponse):
    """JSON with every non-ASCII character escaped.

    Starlette encodes ``ensure_ascii=False`` output as UTF-8, which fails on a lone surrogate
    (``"\\ud800"`` is valid JSON and echoes back in an error message); escaping is always encodable.
    """

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class _NonFinite:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's json reads, but JSON lacks) parse to.

    Not a number to the schema, so the validator reports it at its field like any other wrong type.
    """

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


class _DuplicateKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would silently keep the last; an ambiguous body is refused
            raise _DuplicateKey(f"duplicate key {key!r} in a JSON object")
        out[key] = value
    return out


def _plain(value: Any) -> Any:
    """``value`` made JSON-ready for an error's ``input`` (containers are left out: they can be large)."""
    if isinstance(value, _NonFinite):
        return value.token
    if isinstance(value, dict | list):
        return None
    if isinstance(value, float) and not math.isfinite(value):  # 1e400 parses to inf
        return str(value)
    return value


def _show(value: Any) -> str:
    """``value`` as the client wrote it, for a message."""
    if isinstance(value, _NonFinite):
        return value.token
    try:
        return json.dumps(value, ensure_ascii=True, allow_nan=True)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


class ServiceError(Exception):
    """A request the service refuses: ``status`` and FastAPI-style ``detail`` items."""

    def __init__(self, status: int, detail: list[dict[str, Any]]) -> None:
        super().__init__(detail[0]["msg"] if detail else str(status))
        self.status = status
        self.detail = detail


def _error(kind: str, loc: list[str | int], msg: str, value: Any = None, **ctx: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"type": kind, "loc": loc, "msg": msg}
    shown = _plain(value)
    if shown is not None:
        item["input"] = shown
    if ctx:
        item["ctx"] = ctx
    return item


# --- the size limit, before anything parses the body ---------------------------------------------------


class BodyLimitMiddleware:
    """Answer 413 to a request whose body exceeds ``max_body_bytes``, before the application reads it.

    A declared ``Content-Length`` over the limit is refused at once; a chunked body is read up to the
    limit and refused as soon as it passes it. Within the limit, the body is handed on as read.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        length = next((v for k, v in scope.get("headers", ()) if k.lower() == b"content-length"), None)
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > limit:
                await self._too_large(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = [
            _error(
                "body_too_large",
                ["body"],
                f"the request body exceeds {self.max_body_bytes} bytes",
                max_body_bytes=self.max_body_bytes,
            )
        ]
        # the rest of the body is not read, so the connection cannot carry another request
        response = _JSON({"detail": detail}, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


# --- request schemas -------------------------------------------------------------------------------


def _request_schemas(model: Model, evidence: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The request bodies, with ``evidence`` (a schema or a ``$ref`` to one) as their evidence."""
    method = {"enum": list(METHODS), "default": "auto", "description": "See numbdx.infer"}
    return {
        "InferRequest": {
            "type": "object",
            "title": "InferRequest",
            "properties": {"evidence": evidence, "method": method},
            "required": ["evidence"],
            "additionalProperties": False,
        },
        "NextQuestionsRequest": {
            "type": "object",
            "title": "NextQuestionsRequest",
            "properties": {
                "evidence": evidence,
                "n": {"type": "integer", "minimum": 0, "maximum": MAX_QUESTIONS, "default": 5},
                "include_tests": {"type": "boolean", "default": False, "description": "Value diagnostic tests too"},
                "criterion": {"enum": list(VOI_CRITERIA), "default": "entropy"},
            },
            "required": ["evidence"],
            "additionalProperties": False,
        },
        "ExplainRequest": {
            "type": "object",
            "title": "ExplainRequest",
            "properties": {
                "evidence": evidence,
                "causes": {
                    "type": ["array", "null"],
                    "items": {"enum": list(model.cause_names)},
                    "minItems": 1,
                    "uniqueItems": True,
                    "default": None,
                    "description": "Causes to explain (see GET /model); null: every cause, in rank order",
                },
                "quantity": {"enum": list(QUANTITIES), "default": "explains"},
                "include_assumed": {"type": "boolean", "default": True},
            },
            "required": ["evidence"],
            "additionalProperties": False,
        },
    }


def _without_dialect(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "$schema"}


def _response_schemas(model: Model) -> dict[str, dict[str, Any]]:
    """Schemas of the GET answers and of the error answers (the POST answers come from _schema)."""
    identity = result_schema(model)["properties"]["model"]
    entry = {
        "type": "object",
        "properties": {
            "name": {"enum": list(model.evidence_names())},
            "kind": {"enum": ["context", "risk_factor", "finding"]},
            "group": {"type": "string"},
            "type": {"enum": ["boolean", "string", "number"], "description": "The JSON type of the value"},
            "states": {"type": ["array", "null"], "items": {"type": "string"}},
            "minimum": {"type": ["number", "null"]},
            "maximum": {"type": ["number", "null"]},
            "description": {"type": "string"},
        },
        "required": ["name", "kind", "group", "type", "states", "minimum", "maximum", "description"],
        "additionalProperties": False,
    }
    cause = {
        "type": "object",
        "properties": {
            "name": {"enum": list(model.cause_names)},
            "label": {"type": "string"},
            "group": {"type": "string"},
            "red_flag": {"type": "boolean"},
        },
        "required": ["name", "label", "group", "red_flag"],
        "additionalProperties": False,
    }
    count = {"type": "integer", "minimum": 0}
    source = {
        "type": "object",
        "properties": {"key": {"type": "string"}, "title": {"type": "string"}, "numbers": count, "records": count},
        "required": ["key", "title", "numbers", "records"],
        "additionalProperties": False,
    }
    error_item = {
        "type": "object",
        "properties": {
            "type": {"type": "string", "description": "What is wrong (unknown_evidence, invalid_value, ...)"},
            "loc": {
                "type": "array",
                "items": {"type": ["string", "integer"]},
                "description": "Where: 'body', then the field path",
            },
            "msg": {"type": "string"},
            "input": {"description": "The offending value (left out for objects and arrays)"},
            "ctx": {"type": "object", "description": "Details: suggestions, limits"},
        },
        "required": ["type", "loc", "msg"],
    }
    return {
        "Vocabulary": {
            "type": "object",
            "properties": {
                "format": {"const": "numbdx.vocabulary/1"},
                "model": identity,
                "evidence": {"type": "array", "items": entry},
            },
            "required": ["format", "model", "evidence"],
            "additionalProperties": False,
        },
        "ModelInfo": {
            "type": "object",
            "properties": {
                "format": {"const": "numbdx.model/1"},
                "model": identity,
                "sizes": {"type": "object", "additionalProperties": count},
                "causes": {"type": "array", "items": cause},
                "sources": {"type": "array", "items": source},
                "limits": {
                    "type": "object",
                    "properties": {
                        "max_body_bytes": count,
                        "max_positive_findings": {
                            "type": "object",
                            "additionalProperties": {"type": ["integer", "null"]},
                        },
                        "max_concurrency": {"type": "integer", "minimum": 1},
                    },
                    "required": ["max_body_bytes", "max_positive_findings", "max_concurrency"],
                    "additionalProperties": False,
                },
            },
            "required": ["format", "model", "sizes", "causes", "sources", "limits"],
            "additionalProperties": False,
        },
        "Health": {
            "type": "object",
            "properties": {"status": {"const": "ok"}, "model": identity},
            "required": ["status", "model"],
            "additionalProperties": False,
        },
        "Error": {
            "type": "object",
            "properties": {"detail": {"type": "array", "items": error_item}},
            "required": ["detail"],
        },
    }


# --- the service state -----------------------------------------------------------------------------


class _Service:
    """What the application holds: the model (loaded once), its schemas and validators, the limits."""

    def __init__(
        self, model: Model | None, max_body_bytes: int, limits: Mapping[str, int | None], concurrency: int
    ) -> None:
        self.model: Model | None = model
        self.max_body_bytes = max_body_bytes
        self.limits = dict(limits)
        self._lock = threading.Lock()
        self._ready = False
        self.concurrency = concurrency
        self._limiter: anyio.CapacityLimiter | None = None

    def load(self) -> Model:
        """Load the model (unless given) and build what depends on it; once, whatever the callers."""
        with self._lock:
            if not self._ready:
                model = self.model if self.model is not None else load_model()
                evidence = _without_dialect(evidence_schema(model))
                self.evidence_properties = evidence["properties"]
                self.cause_names = list(model.cause_names)
                self.validators = {
                    name: jsonschema.Draft202012Validator(schema)
                    for name, schema in _request_schemas(model, evidence).items()
                }
                self.findings = {f.name: f for f in model.findings}
                self.model = model
                self._ready = True
            assert self.model is not None
            return self.model

    # -- request bodies --

    async def body(self, request: Request, schema: str) -> dict[str, Any]:
        """The request's JSON body, checked against request schema ``schema`` (422 naming each bad field)."""
        self.load()
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media and media not in _JSON_TYPES and not media.endswith("+json"):
            raise ServiceError(
                415, [_error("unsupported_media_type", ["header", "content-type"], "send JSON (application/json)")]
            )
        raw = await request.body()
        try:
            data = json.loads(raw, object_pairs_hook=_object, parse_constant=_NonFinite)
        except _DuplicateKey as exc:
            raise ServiceError(422, [_error("json_invalid", ["body"], str(exc))]) from None
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise ServiceError(422, [_error("json_invalid", ["body"], f"the body is not valid JSON: {exc}")]) from None
        errors = self._check(self.validators[schema], data)
        if errors:
            raise ServiceError(422, errors)
        return data

    def _check(self, validator: jsonschema.Draft202012Validator, data: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[tuple[Any, ...]] = set()
        for error in validator.iter_errors(data):
            for item in self._describe(error):
                key = tuple(item["loc"])
                if key not in seen:  # a value can break two keywords (type and enum): report it once
                    seen.add(key)
                    out.append(item)
            if len(out) >= MAX_ERRORS:
                break
        return out[:MAX_ERRORS]

    def _describe(self, error: jsonschema.ValidationError) -> list[dict[str, Any]]:
        path = list(error.absolute_path)
        loc: list[str | int] = ["body", *path]
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            extras = [k for k in error.instance if k not in allowed]
            if path == ["evidence"]:
                return [self._unknown_evidence(name) for name in extras[:MAX_ERRORS]]
            return [
                _error("extra_forbidden", [*loc, k], f"unknown field {k!r}; the fields are {', '.join(allowed)}")
                for k in extras[:MAX_ERRORS]
            ]
        if error.validator == "required":
            missing = [k for k in error.validator_value if isinstance(error.instance, dict) and k not in error.instance]
            return [_error("missing", [*loc, k], f"field {k!r} is required") for k in missing]
        if not path:
            return [_error("object_type", loc, "the body must be a JSON object", error.instance)]
        if len(path) == 2 and path[0] == "evidence" and path[1] in self.evidence_properties:
            return [self._invalid_evidence(str(path[1]), error.instance)]
        if path[0] == "causes" and len(path) == 2 and error.validator == "enum":
            name = error.instance
            close = difflib.get_close_matches(name, self.cause_names, n=3) if isinstance(name, str) else []
            hint = f"; did you mean {', '.join(repr(s) for s in close)}?" if close else ""
            shown = repr(name[:_SUGGEST_MAX_LENGTH]) if isinstance(name, str) else _show(name)
            return [
                _error("unknown_cause", loc, f"unknown cause {shown}{hint} (see GET /model)", name, suggestions=close)
            ]
        if isinstance(error.instance, _NonFinite):
            msg = f"{error.instance.token} is not JSON; give a number"
        else:
            msg = error.message.replace(repr(error.instance), _show(error.instance), 1)
        return [_error(str(error.validator), loc, msg, error.instance)]

    def _unknown_evidence(self, name: str) -> dict[str, Any]:
        names = list(self.evidence_properties)
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6) if len(name) <= _SUGGEST_MAX_LENGTH else []
        hint = f"; did you mean {', '.join(repr(s) for s in close)}?" if close else ""
        return _error(
            "unknown_evidence",
            ["body", "evidence", name],
            f"unknown evidence name {name[:_SUGGEST_MAX_LENGTH]!r}{hint} (see GET /vocabulary)",
            suggestions=close,
        )

    def _invalid_evidence(self, name: str, value: Any) -> dict[str, Any]:
        schema = self.evidence_properties[name]
        if isinstance(value, _NonFinite):
            msg = f"evidence {name!r} is {value.token}, which JSON lacks; leave the key out (or null) for unknown"
        else:
            if "enum" in schema:
                allowed = ", ".join(json.dumps(s) for s in schema["enum"] if s is not None) + " or null"
            elif "number" in schema["type"]:
                allowed = f"a number of years from {schema['minimum']} to {schema['maximum']}, or null"
            else:
                allowed = "true, false or null"
            msg = f"evidence {name!r} expects {allowed}, got {_show(value)}"
        return _error("invalid_value", ["body", "evidence", name], msg, value)

    def check_cost(self, endpoint: str, evidence: Mapping[str, Any]) -> None:
        """Refuse (422) evidence with more positive findings than ``endpoint`` allows."""
        limit = self.limits.get(endpoint)
        if limit is None:
            return
        positives = sorted(name for name, value in evidence.items() if self._positive(name, value))
        if len(positives) > limit:
            raise ServiceError(
                422,
                [
                    _error(
                        "inference_limit",
                        ["body", "evidence"],
                        f"{len(positives)} positive findings; {endpoint} answers at most {limit} in one request "
                        "(a positive finding: a binary finding given true, the side, or the first state of "
                        "numbness_onset/numbness_course); give fewer",
                        positive_findings=positives,
                        limit=limit,
                    )
                ],
            )

    async def evidence_request(self, request: Request, schema: str, endpoint: str) -> tuple[dict[str, Any], Model]:
        """A request whose body carries evidence: the body checked against ``schema`` and ``endpoint``'s
        cost limit, and the model."""
        body = await self.body(request, schema)
        self.check_cost(endpoint, body["evidence"])
        return body, self.load()

    def _positive(self, name: str, value: Any) -> bool:
        finding = self.findings.get(name)
        if finding is None or value is None:
            return False
        if finding.kind == "binary":
            return value is True
        if finding.kind == "side":
            return True
        return value == finding.states[0]  # a categorical finding's first state is its "on" pattern

    # -- running numbdx --

    async def run(self, fn: Callable[[], Any], body: Mapping[str, Any]) -> Any:
        """``fn()`` in a worker thread, at most ``concurrency`` at once; numbdx's refusals become 422.

        Inference is CPU work that holds the GIL most of the time: more threads than cores only share
        the cores (every answer late), so requests past ``concurrency`` wait their turn, first come
        first served.
        """
        if self._limiter is None:  # made here: anyio wants a running event loop
            self._limiter = anyio.CapacityLimiter(self.concurrency)
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self._limiter)
        except NumbdxError as exc:
            raise ServiceError(422, [_numbdx_error(exc, body)]) from None


_QUOTED = re.compile(r"evidence '([^']+)'")
_ASSIGNED = re.compile(r"\b([a-z_][a-z0-9_]*)=")


def _numbdx_error(exc: NumbdxError, body: Mapping[str, Any]) -> dict[str, Any]:
    """A 422 item for a numbdx refusal, located at the evidence name it is about where it says one."""
    evidence = body.get("evidence") if isinstance(body.get("evidence"), dict) else {}
    loc: list[str | int] = ["body", "evidence"]
    if isinstance(exc, UnknownEvidenceError):
        return _error("unknown_evidence", [*loc, str(exc.name)], str(exc), suggestions=list(exc.suggestions))
    if isinstance(exc, UnknownCauseError):
        return _error("unknown_cause", ["body", "causes"], str(exc), suggestions=list(exc.suggestions))
    if isinstance(exc, InvalidEvidenceValueError):
        match = _QUOTED.search(str(exc))
        if match and match.group(1) in evidence:
            loc.append(match.group(1))
        return _error("invalid_value", loc, str(exc))
    if isinstance(exc, ImpossibleEvidenceError):
        named = [n for n in _ASSIGNED.findall(str(exc)) if n in evidence]
        # the finding that contradicts, not the chief complaint it contradicts
        named.sort(key=lambda n: n == CHIEF_COMPLAINT)
        return _error("impossible_evidence", loc + named[:1], str(exc), names=named)
    if isinstance(exc, InferenceLimitError):
        return _error("inference_limit", loc, str(exc))
    raise exc  # a numbdx failure that is not about the request (a broken knowledge base): a real 500


# --- the application -----------------------------------------------------------------------------------


def _json_body(name: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    }


def _answers(name: str, description: str, *, body: bool = True) -> dict[int | str, dict[str, Any]]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    out: dict[int | str, dict[str, Any]] = {
        200: {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    }
    if body:
        out[413] = {"description": "The body is larger than the service accepts", "content": error}
        out[415] = {"description": "The Content-Type is not JSON", "content": error}
        out[422] = {
            "description": "The body is not valid JSON, does not fit the schema, or numbdx refuses the evidence "
            "(impossible, or past the inference limits); each item names the field",
            "content": error,
        }
    return out


def create_app(
    model: Model | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_positive_findings: Mapping[str, int | None] | None = None,
    max_concurrency: int | None = None,
) -> FastAPI:
    """The numbdx HTTP application (FastAPI).

    Parameters
    ----------
    model
        The model to serve; the shipped one (loaded once, at start-up, in the application's lifespan)
        by default.
    max_body_bytes
        Larger request bodies get 413 before they are read further.
    max_positive_findings
        Per endpoint (``"/infer"``, ``"/triage"``, ``"/explain"``, ``"/next-questions"``), the most
        positive findings one request may give, overriding :data:`DEFAULT_POSITIVE_LIMITS`; ``None`` for
        an endpoint lifts the service's limit (numbdx's own still apply).
    max_concurrency
        How many computations (inferences, explanations, question rankings) run at once, each in a
        worker thread; the others wait in arrival order. By default the number of CPUs this process
        may use. A slow request (a ranking of questions takes up to about 2 s at its limit) holds one
        slot meanwhile; raise this to let cheap requests overtake, at some cost in throughput.

    Returns
    -------
    fastapi.FastAPI
        Serve it with any ASGI server (``uvicorn "numbdx._service:create_app" --factory``) or
        :func:`serve`.
    """
    from . import __version__

    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be a positive integer, got {max_body_bytes!r}")
    limits = dict(DEFAULT_POSITIVE_LIMITS)
    for endpoint, limit in (max_positive_findings or {}).items():
        if endpoint not in limits:
            raise ValueError(f"unknown endpoint {endpoint!r}; limits are set for {', '.join(limits)}")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"the limit for {endpoint} must be a non-negative integer or None, got {limit!r}")
        limits[endpoint] = limit
    if max_concurrency is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
        max_concurrency = max(1, len(cpus))
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
    service = _Service(model, max_body_bytes, limits, max_concurrency)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = await run_in_threadpool(service.load)
        # warm the engine's caches, and load the compiled kernels if installed (about 0.5 s), so the
        # first request is as fast as the others
        await run_in_threadpool(infer, {}, model=model)
        await run_in_threadpool(warm_kernels, model)
        yield

    app = FastAPI(
        title="numbdx",
        version=__version__,
        summary="Bayesian differential diagnosis of numbness of the legs, feet and heels",
        description="Ranks possible causes for a clinician or a triage service; it never states a diagnosis.",
        lifespan=lifespan,
        default_response_class=_JSON,
    )
    app.state.numbdx = service
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> _JSON:
        return _JSON({"detail": exc.detail}, status_code=exc.status)

    @app.post(
        "/infer",
        operation_id="infer",
        summary="Rank the causes given the evidence",
        description="Differential.to_dict() (format numbdx.differential/2), triage and specialists included.",
        openapi_extra=_json_body("InferRequest"),
        responses=_answers("Differential", "The ranked differential"),
    )
    async def post_infer(request: Request) -> _JSON:
        body, model = await service.evidence_request(request, "InferRequest", "/infer")
        method = body.get("method", "auto")
        result = await service.run(lambda: infer(body["evidence"], model=model, method=method).to_dict(), body)
        return _JSON(result)

    @app.post(
        "/triage",
        operation_id="triage",
        summary="How urgently to seek care",
        description="The triage part of POST /infer's answer: level, cited reasons, advice and disclaimer.",
        openapi_extra=_json_body("InferRequest"),
        responses=_answers("Triage", "The triage (format numbdx.triage/1)"),
    )
    async def post_triage(request: Request) -> _JSON:
        body, model = await service.evidence_request(request, "InferRequest", "/triage")
        method = body.get("method", "auto")

        def triage() -> dict[str, Any]:
            differential = infer(body["evidence"], model=model, method=method)
            assert differential.triage is not None  # infer always attaches one
            return differential.triage.to_dict()

        return _JSON(await service.run(triage, body))

    @app.post(
        "/next-questions",
        operation_id="next_questions",
        summary="The questions worth asking next",
        description="NextQuestions.to_dict(): the n most informative unanswered questions and whether to stop.",
        openapi_extra=_json_body("NextQuestionsRequest"),
        responses=_answers("NextQuestions", "The questions, best first (format numbdx.next_questions/1)"),
    )
    async def post_next_questions(request: Request) -> _JSON:
        from ._voi import next_questions

        body, model = await service.evidence_request(request, "NextQuestionsRequest", "/next-questions")
        n = int(body.get("n", 5))  # the schema's "integer" admits 5.0
        options = {"include_tests": body.get("include_tests", False), "criterion": body.get("criterion", "entropy")}
        result = await service.run(lambda: next_questions(body["evidence"], n, model=model, **options).to_dict(), body)
        return _JSON(result)

    @app.post(
        "/explain",
        operation_id="explain",
        summary="Why each cause ranks where it does",
        description="Explanation.to_dict(): every evidence item's weight for or against each cause.",
        openapi_extra=_json_body("ExplainRequest"),
        responses=_answers("Explanation", "The weights (format numbdx.explanation/1)"),
    )
    async def post_explain(request: Request) -> _JSON:
        body, model = await service.evidence_request(request, "ExplainRequest", "/explain")
        options = {
            "causes": body.get("causes"),
            "quantity": body.get("quantity", "explains"),
            "include_assumed": body.get("include_assumed", True),
        }
        result = await service.run(lambda: explain(body["evidence"], model=model, **options).to_dict(), body)
        return _JSON(result)

    @app.get(
        "/vocabulary",
        operation_id="vocabulary",
        summary="Every evidence name the service accepts",
        responses=_answers("Vocabulary", "The vocabulary", body=False),
    )
    async def get_vocabulary() -> _JSON:
        model = service.load()
        rows = []
        for name, prop in service.evidence_properties.items():
            kind = next(t for t in prop["type"] if t != "null")
            rows.append(
                {
                    "name": name,
                    "kind": prop["x-numbdx-kind"],
                    "group": prop["x-numbdx-group"],
                    "type": kind,
                    "states": [s for s in prop["enum"] if s is not None] if "enum" in prop else None,
                    "minimum": prop.get("minimum"),
                    "maximum": prop.get("maximum"),
                    "description": prop["description"],
                }
            )
        return _JSON({"format": "numbdx.vocabulary/1", "model": model.identity, "evidence": rows})

    @app.get(
        "/model",
        operation_id="model",
        summary="The model: identity, sizes, causes, sources and the service's limits",
        responses=_answers("ModelInfo", "The model", body=False),
    )
    async def get_model() -> _JSON:
        return _JSON(_model_info(service.load(), service))

    @app.get(
        "/health",
        operation_id="health",
        summary="Ready once the model is loaded",
        responses=_answers("Health", "Ready", body=False),
    )
    async def get_health() -> _JSON:
        return _JSON({"status": "ok", "model": service.load().identity})

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            model = service.load()
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            evidence = _without_dialect(evidence_schema(model))
            components = {
                "Evidence": evidence,
                **_request_schemas(model, {"$ref": "#/components/schemas/Evidence"}),
                "Differential": _without_dialect(result_schema(model)),
                "Triage": _without_dialect(triage_schema(model)),
                "NextQuestions": _without_dialect(next_questions_schema(model)),
                "Explanation": _without_dialect(explanation_schema(model)),
                **_response_schemas(model),
            }
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise it
    return app


def _model_info(model: Model, service: _Service) -> dict[str, Any]:
    kb = model.knowledge
    numbers = Counter(n.source for n in kb.numbers())
    records = Counter(p.source for p in kb.provenances())
    return {
        "format": "numbdx.model/1",
        "model": model.identity,
        "sizes": {
            "causes": len(model.causes),
            "red_flag_causes": sum(c.red_flag for c in model.causes),
            "risk_factors": len(model.upper) - 2,
            "findings": len(model.findings) + 1,  # the chief complaint is a finding too
            "evidence_names": len(model.evidence_names()),
            "links": len(kb.links),
            "numbers": sum(numbers.values()),
        },
        "causes": [{"name": c.name, "label": c.label, "group": c.group, "red_flag": c.red_flag} for c in model.causes],
        "sources": [
            {"key": key, "title": title, "numbers": numbers.get(key, 0), "records": records.get(key, 0)}
            for key, title in _SOURCE_TITLES.items()
        ],
        "limits": {
            "max_body_bytes": service.max_body_bytes,
            "max_positive_findings": dict(service.limits),
            "max_concurrency": service.concurrency,
        },
    }


def serve(host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1, log_level: str = "info") -> None:
    """Run the service with uvicorn until interrupted.

    Parameters
    ----------
    host, port
        Where to listen; loopback by default (put a reverse proxy with TLS in front for anything else).
    workers
        Worker processes; each loads the model once at start-up. One process already uses every core
        it can through its threads only while numpy releases the GIL, so more workers raise throughput
        on a multi-core machine.
    log_level
        uvicorn's log level.
    """
    import uvicorn

    # an import string, so that each worker process builds its own application
    uvicorn.run("numbdx._service:create_app", factory=True, host=host, port=port, workers=workers, log_level=log_level)


def main(argv: list[str] | None = None) -> None:
    """``python -m numbdx._service [--host H] [--port P] [--workers N]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m numbdx._service", description="Serve numbdx over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    serve(args.host, args.port, workers=args.workers, log_level=args.log_level)


if __name__ == "__main__":
    main()
