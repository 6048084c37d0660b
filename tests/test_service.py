"""The HTTP service: every endpoint against the library, 422 answers that name the bad field, 413 before
parsing, one model load, and a schemathesis run against the OpenAPI document."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import jsonschema
import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig

import numbdx
from numbdx import _api, _service
from numbdx._schema import evidence_schema, result_schema
from numbdx._service import DEFAULT_POSITIVE_LIMITS, create_app
from numbdx._voi import next_questions

from .conftest import REPO, TWENTY_POSITIVES

MODEL = numbdx.load_model()
TYPICAL = {"age": 58, "sex": "female", "diabetes": True, "numb_toes": True, "tingling": True, "burning": True}
CASES = [
    {},
    TYPICAL,
    {"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True, "numbness_side": "left"},
    {"age": 30, "sex": "female", "pregnancy": True, "numb_heel": True, "tingling": None},
    {"age": 70, "one_sided_paralysis": True, "speech_disturbance": True, "numbness_onset": "sudden"},
    {"leg_numbness": False, "back_pain": True, "numb_heel": False},
]


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def _json(value):
    """``value`` as a client receives it (JSON has no tuples and no NaN)."""
    return json.loads(json.dumps(value, allow_nan=False))


# --- happy paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ev", CASES)
def test_infer_answers_what_the_library_answers(client, ev):
    response = client.post("/infer", json={"evidence": ev})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == _json(numbdx.infer(ev).to_dict())


def test_infer_passes_the_method_on(client):
    response = client.post("/infer", json={"evidence": TYPICAL, "method": "sampling"})
    assert response.status_code == 200
    assert response.json()["method"] == "importance_sampling"
    assert response.json() == _json(numbdx.infer(TYPICAL, method="sampling").to_dict())  # seeded by the evidence


@pytest.mark.parametrize("ev", CASES[:5])
def test_triage_is_the_triage_of_infer(client, ev):
    response = client.post("/triage", json={"evidence": ev})
    assert response.status_code == 200
    expected = numbdx.infer(ev).to_dict()["triage"]
    assert response.json() == _json(expected)
    assert response.json()["disclaimer"] and response.json()["format"] == "numbdx.triage/1"


def test_next_questions_answers_what_the_library_answers(client):
    response = client.post("/next-questions", json={"evidence": TYPICAL, "n": 3, "include_tests": True})
    assert response.status_code == 200, response.text
    assert response.json() == _json(next_questions(TYPICAL, 3, include_tests=True).to_dict())
    assert len(response.json()["questions"]) == 3
    default = client.post("/next-questions", json={"evidence": {"age": 40}})
    assert len(default.json()["questions"]) == 5


def test_explain_answers_what_the_library_answers(client):
    body = {"evidence": CASES[2], "causes": ["atherosclerosis", "stroke"], "quantity": "posterior"}
    response = client.post("/explain", json=body)
    assert response.status_code == 200, response.text
    expected = numbdx.explain(CASES[2], causes=["atherosclerosis", "stroke"], quantity="posterior")
    assert response.json() == _json(expected.to_dict())
    everything = client.post("/explain", json={"evidence": CASES[2]}).json()
    assert len(everything["causes"]) == len(MODEL.causes)


def test_explain_writes_infinite_weights_as_strings(client):
    ev = {"sex": "female", "age": 30, "pregnancy": False}
    response = client.post("/explain", json={"evidence": ev, "causes": ["pregnancy_compression"]})
    weights = {w["item"]: w["log_odds_change"] for w in response.json()["causes"][0]["weights"]}
    assert weights["pregnancy"] == "-inf"


def test_vocabulary_lists_every_evidence_name_with_its_type(client):
    body = client.get("/vocabulary").json()
    rows = {row["name"]: row for row in body["evidence"]}
    assert list(rows) == list(MODEL.evidence_names())
    assert rows["age"]["type"] == "number" and (rows["age"]["minimum"], rows["age"]["maximum"]) == (0, 130)
    assert rows["numbness_side"]["states"] == ["left", "right", "both"]
    assert rows["diabetes"] | {"description": ""} == {
        "name": "diabetes",
        "kind": "risk_factor",
        "group": "risk_factor",
        "type": "boolean",
        "states": None,
        "minimum": None,
        "maximum": None,
        "description": "",
    }
    assert body["model"] == MODEL.identity


def test_model_gives_identity_sizes_causes_sources_and_limits(client):
    body = client.get("/model").json()
    assert body["model"] == MODEL.identity
    assert body["sizes"]["causes"] == len(MODEL.causes) == len(body["causes"])
    assert body["sizes"]["evidence_names"] == len(MODEL.evidence_names())
    assert {c["name"] for c in body["causes"] if c["red_flag"]} >= {"stroke", "thrombosis"}
    sources = {s["key"]: s for s in body["sources"]}
    assert sources["legs"]["numbers"] > 0 and sources["heels"]["numbers"] > 0
    assert sum(s["numbers"] for s in body["sources"]) == body["sizes"]["numbers"]
    limits = body["limits"]
    assert limits["max_body_bytes"] == 65536 and limits["max_positive_findings"] == DEFAULT_POSITIVE_LIMITS
    assert limits["max_concurrency"] == len(os.sched_getaffinity(0))


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": MODEL.identity}


# --- refusals: 422 naming the field, 413, 415 ---------------------------------------------------------


def _refusal(client, path, status=422, **request):
    response = client.post(path, **request)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    return detail


@pytest.mark.parametrize(
    "evidence, name, kind, words",
    [
        (
            {"numb_heal": True},
            "numb_heal",
            "unknown_evidence",
            "unknown evidence name 'numb_heal'; did you mean 'numb_heel'",
        ),
        ({"tingling": "yes"}, "tingling", "invalid_value", 'expects true, false or null, got "yes"'),
        ({"tingling": 1}, "tingling", "invalid_value", "got 1"),
        ({"age": "40"}, "age", "invalid_value", "a number of years from 0 to 130"),
        ({"age": True}, "age", "invalid_value", "got true"),
        ({"age": 131}, "age", "invalid_value", "got 131"),
        ({"sex": "F"}, "sex", "invalid_value", 'expects "female", "male" or null'),
        ({"numbness_side": 0}, "numbness_side", "invalid_value", '"left", "right", "both" or null'),
        ({"pregnancy": True, "sex": "male"}, "pregnancy", "impossible_evidence", "sex='male'"),
        ({"leg_numbness": False, "numb_heel": True}, "numb_heel", "impossible_evidence", "leg_numbness=False"),
        ({"leg_numbness": False, "numbness_side": "left"}, "numbness_side", "impossible_evidence", "contradicts"),
    ],
)
@pytest.mark.parametrize("path", ["/infer", "/triage", "/next-questions", "/explain"])
def test_bad_evidence_gets_422_naming_the_field(client, path, evidence, name, kind, words):
    detail = _refusal(client, path, json={"evidence": {"age": 40, **evidence}})
    assert detail[0]["loc"] == ["body", "evidence", name]
    assert detail[0]["type"] == kind
    assert words in detail[0]["msg"]


def test_unknown_names_come_with_suggestions(client):
    detail = _refusal(client, "/infer", json={"evidence": {"numb_heal": True, "diabtes": False}})
    by_name = {d["loc"][-1]: d for d in detail}
    assert by_name["numb_heal"]["ctx"]["suggestions"][0] == "numb_heel"
    assert by_name["diabtes"]["ctx"]["suggestions"][0] == "diabetes"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_get_422_naming_the_field(client, token):
    content = f'{{"evidence": {{"age": 40, "swelling": {token}}}}}'.encode()
    detail = _refusal(client, "/infer", content=content, headers={"content-type": "application/json"})
    assert detail[0]["loc"] == ["body", "evidence", "swelling"]
    assert token in detail[0]["msg"] and detail[0]["input"] == token
    assert _refusal(client, "/infer", json={"evidence": {"age": "NaN"}})[0]["loc"] == ["body", "evidence", "age"]
    # a number too large for a float parses to infinity: out of range, not a crash
    assert _refusal(client, "/infer", content=b'{"evidence": {"age": 1e400}}')[0]["loc"] == ["body", "evidence", "age"]


@pytest.mark.parametrize(
    "path, body, loc, kind",
    [
        ("/infer", {}, ["body", "evidence"], "missing"),
        ("/infer", {"evidence": {}, "methd": "auto"}, ["body", "methd"], "extra_forbidden"),
        ("/infer", {"evidence": {}, "method": "magic"}, ["body", "method"], "enum"),
        ("/infer", {"evidence": []}, ["body", "evidence"], "type"),
        ("/infer", [], ["body"], "object_type"),
        ("/next-questions", {"evidence": {}, "n": -1}, ["body", "n"], "minimum"),
        ("/next-questions", {"evidence": {}, "n": 2.5}, ["body", "n"], "type"),
        ("/next-questions", {"evidence": {}, "n": True}, ["body", "n"], "type"),
        ("/next-questions", {"evidence": {}, "criterion": "gini"}, ["body", "criterion"], "enum"),
        ("/explain", {"evidence": {}, "causes": ["strok"]}, ["body", "causes", 0], "unknown_cause"),
        ("/explain", {"evidence": {}, "causes": []}, ["body", "causes"], "minItems"),
        ("/explain", {"evidence": {}, "quantity": "odds"}, ["body", "quantity"], "enum"),
    ],
)
def test_bad_request_fields_get_422_naming_the_field(client, path, body, loc, kind):
    detail = _refusal(client, path, json=body)
    assert detail[0]["loc"] == loc
    assert detail[0]["type"] == kind


def test_an_integral_float_is_a_fine_count(client):
    # JSON Schema's "integer" admits 2.0; the service must hand numbdx an int, not crash
    response = client.post("/next-questions", json={"evidence": {"age": 40}, "n": 2.0})
    assert response.status_code == 200 and len(response.json()["questions"]) == 2


@pytest.mark.parametrize(
    "content, words",
    [
        (b'{"evidence": {', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"evidence": {"age": 1, "age": 2}}', "duplicate key 'age'"),
        (b"[" * 5000 + b"]" * 5000, "not valid JSON"),
    ],
)
def test_bodies_that_are_not_json_get_422(client, content, words):
    detail = _refusal(client, "/infer", content=content, headers={"content-type": "application/json"})
    assert detail[0]["type"] == "json_invalid" and words in detail[0]["msg"]


def test_a_lone_surrogate_is_echoed_escaped_not_crashed_on(client):
    response = client.post("/infer", content=b'{"evidence": {"\\ud800": true}}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "unknown_evidence"


def test_too_many_positive_findings_get_422_from_the_service_limit(client):
    many = [f.name for f in MODEL.findings if f.kind == "binary"][: DEFAULT_POSITIVE_LIMITS["/next-questions"] + 1]
    started = time.perf_counter()
    detail = _refusal(client, "/next-questions", json={"evidence": dict.fromkeys(many, True)})
    assert time.perf_counter() - started < 1  # refused before any inference
    assert detail[0]["type"] == "inference_limit" and detail[0]["loc"] == ["body", "evidence"]
    assert detail[0]["ctx"]["limit"] == DEFAULT_POSITIVE_LIMITS["/next-questions"]
    assert sorted(detail[0]["ctx"]["positive_findings"]) == sorted(many)
    # negatives cost little and are not counted
    response = client.post("/next-questions", json={"evidence": dict.fromkeys(many, False), "n": 1})
    assert response.status_code == 200


def test_twenty_positive_findings_are_answered_exactly_and_twenty_one_refused(client):
    """/infer's limit is the 20 positives exact inference answers: the benchmarks' k sweep's twenty,
    with its context, get an exact answer (with the age alone known they would be sampled: summing
    out sex and the risk factors makes the elimination's tables too large), and one more positive
    gets 422 before any inference."""
    positives = TWENTY_POSITIVES
    assert DEFAULT_POSITIVE_LIMITS["/infer"] == len(positives)
    context = {"age": 58, "sex": "female", "diabetes": True, "overweight": True, "smoking": False}
    response = client.post("/infer", json={"evidence": {**context, **dict.fromkeys(positives, True)}})
    assert response.status_code == 200 and response.json()["method"] == "exact"
    detail = _refusal(client, "/infer", json={"evidence": {**dict.fromkeys(positives, True), "numb_calf": True}})
    assert detail[0]["type"] == "inference_limit" and detail[0]["ctx"]["limit"] == len(positives)


def test_numbdx_inference_limit_gets_422():
    # twenty findings with three causes or more are past Quickscore's term budget, and their
    # elimination over the findings' choices past its work limit (12.6 million table entries)
    binary = [f.name for f in MODEL.findings if f.kind == "binary" and f.group != "test" and len(f.parents) >= 3]
    with TestClient(create_app(MODEL, max_positive_findings={"/infer": None})) as c:
        detail = _refusal(c, "/infer", json={"evidence": dict.fromkeys(binary[:20], True), "method": "exact"})
    assert detail[0]["type"] == "inference_limit"
    assert "exact inference over the findings' choices needs" in detail[0]["msg"]


def test_oversize_bodies_get_413_before_parsing():
    with TestClient(create_app(MODEL, max_body_bytes=200)) as c:
        small = {"evidence": {"age": 40}}
        assert c.post("/infer", json=small).status_code == 200
        padded = json.dumps({"evidence": {"age": 40}}) + " " * 300  # valid JSON, but too long
        detail = _refusal(c, "/infer", 413, content=padded, headers={"content-type": "application/json"})
        assert detail[0]["type"] == "body_too_large" and detail[0]["ctx"]["max_body_bytes"] == 200
        # not even parsed: invalid JSON over the limit is still 413, not 422
        _refusal(c, "/infer", 413, content=b"{" * 201)
        # a chunked body (no Content-Length) is cut off as it passes the limit
        chunks = (b"{" * 100 for _ in range(3))
        _refusal(c, "/infer", 413, content=chunks)


def test_a_body_that_is_not_json_gets_415(client):
    detail = _refusal(
        client, "/infer", 415, content=b"age=40", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert detail[0]["loc"] == ["header", "content-type"]
    json_suffix = client.post("/infer", content=b'{"evidence": {}}', headers={"content-type": "application/vnd.x+json"})
    assert json_suffix.status_code == 200


# --- the model: loaded once, at start-up, and the one given is the one served --------------------------


def test_the_model_is_loaded_once_at_start_up(monkeypatch):
    builds, warmed = [], []
    build = _api.build_model

    def counting(*args, **kwargs):
        builds.append(args)
        return build(*args, **kwargs)

    monkeypatch.setattr(_api, "build_model", counting)
    monkeypatch.setattr(_api, "_default_model", None)
    monkeypatch.setattr(_service, "warm_kernels", warmed.append)
    app = create_app()
    assert builds == []  # creating the application loads nothing
    with TestClient(app) as c:
        assert len(builds) == 1  # start-up did, and loaded the compiled kernels for that model
        assert len(warmed) == 1 and warmed[0].identity == c.get("/model").json()["model"]
        assert c.get("/health").status_code == 200
        c.post("/infer", json={"evidence": TYPICAL})
        c.post("/triage", json={"evidence": TYPICAL})
        c.post("/next-questions", json={"evidence": {"age": 40}, "n": 1})
        c.post("/explain", json={"evidence": TYPICAL, "causes": ["stroke"]})
        c.get("/vocabulary")
        c.get("/model")
        c.get("/openapi.json")
    assert len(builds) == 1


def test_the_model_given_is_the_model_served():
    sub = MODEL.submodel(["stroke", "thrombosis", "diabetic_neuropathy"])
    with TestClient(create_app(sub)) as c:
        assert c.get("/model").json()["model"] == sub.identity
        ev = {"age": 70, "numb_toes": True}
        assert c.post("/infer", json={"evidence": ev}).json() == _json(numbdx.infer(ev, model=sub).to_dict())
        # the vocabulary and schemas are the sub-model's: the full model's names are unknown there
        missing = next(n for n in MODEL.evidence_names() if n not in sub.evidence_names())
        detail = _refusal(c, "/infer", json={"evidence": {missing: True}})
        assert detail[0]["type"] == "unknown_evidence"


def test_create_app_checks_its_arguments():
    with pytest.raises(ValueError, match="max_body_bytes"):
        create_app(max_body_bytes=0)
    with pytest.raises(ValueError, match="unknown endpoint"):
        create_app(max_positive_findings={"/diagnose": 3})
    with pytest.raises(ValueError, match="non-negative integer"):
        create_app(max_positive_findings={"/infer": -1})
    with pytest.raises(ValueError, match="max_concurrency"):
        create_app(max_concurrency=0)


def test_concurrent_requests_wait_their_turn_and_get_their_own_answers():
    cases = [{"age": age, "numb_toes": True, "diabetes": age > 50} for age in range(20, 90, 5)]
    with TestClient(create_app(MODEL, max_concurrency=1)) as c, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda ev: c.post("/infer", json={"evidence": ev}).json(), cases))
    assert answers == [_json(numbdx.infer(ev).to_dict()) for ev in cases]


def test_import_numbdx_does_not_import_fastapi():
    code = "import sys, numbdx, numbdx._schema; assert 'fastapi' not in sys.modules and 'jsonschema' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=60)


# --- the OpenAPI document ------------------------------------------------------------------------------


def test_openapi_describes_every_body_with_the_generated_schemas(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    components = spec["components"]["schemas"]
    assert components["Evidence"] == {k: v for k, v in evidence_schema(MODEL).items() if k != "$schema"}
    assert components["Differential"] == {k: v for k, v in result_schema(MODEL).items() if k != "$schema"}
    for name, schema in components.items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    expected = {
        "/infer": ("InferRequest", "Differential"),
        "/triage": ("InferRequest", "Triage"),
        "/next-questions": ("NextQuestionsRequest", "NextQuestions"),
        "/explain": ("ExplainRequest", "Explanation"),
    }
    for path, (request, response) in expected.items():
        operation = spec["paths"][path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/" + request)
        answers = operation["responses"]
        assert answers["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/" + response)
        assert {"413", "415", "422"} <= set(answers)
        assert components[request]["properties"]["evidence"] == {"$ref": "#/components/schemas/Evidence"}
    for path, response in {"/vocabulary": "Vocabulary", "/model": "ModelInfo", "/health": "Health"}.items():
        answers = spec["paths"][path]["get"]["responses"]
        assert answers["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/" + response)


def _api_schema():
    # bounded and derandomised: the fuzzing phase's random bodies, positive (valid by the schema) and
    # negative (invalid). The coverage phase (every boundary value of every one of the ~85 evidence
    # properties: ~700 requests per operation) is left to the explicit 422 tests above, for time.
    config = SchemathesisConfig.from_dict(
        {
            "generation": {"max-examples": 100, "deterministic": True, "mode": "all"},
            "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
        }
    )
    # tighter cost limits than the defaults keep the run short; what they protect is tested above
    limits = {"/infer": 8, "/triage": 8, "/explain": 4, "/next-questions": 2}
    app = create_app(MODEL, max_positive_findings=limits)
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


# loaded at collection (schemathesis' lazy fixture loader does not support this pytest)
schema = _api_schema()


@schema.parametrize()
def test_schemathesis_finds_no_server_error_and_every_answer_fits_the_schema(case):
    from schemathesis.checks import CHECKS

    checks = [
        CHECKS.get_one(name)
        for name in (
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_schema_conformance",
            "negative_data_rejection",
        )
    ]
    # positive_data_acceptance is left out on purpose: the schema checks types and names only, so
    # schema-valid evidence may still be impossible, or past the cost limits (a documented 422)
    case.call_and_validate(checks=checks)


# --- a real server -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_a_real_server_on_loopback():
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "numbdx._service", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not start in 30 s"
                time.sleep(0.2)
        assert health.json()["model"] == MODEL.identity
        answer = httpx.post(f"http://127.0.0.1:{port}/infer", json={"evidence": TYPICAL}, timeout=30)
        assert answer.json() == _json(numbdx.infer(TYPICAL).to_dict())
        big = httpx.post(f"http://127.0.0.1:{port}/infer", content=b" " * 70000, timeout=30)
        assert big.status_code == 413
    finally:
        server.terminate()
        server.wait(timeout=30)
