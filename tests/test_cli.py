"""The ``numbdx`` command line: output, value parsing, exit codes, exports and the service hand-off."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import subprocess
import sys
import types
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbdx
from numbdx import _cli
from numbdx._cli import main, parse_evidence

from .strategies import SUBMODEL_CAUSES, evidence

CASE = {"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True}
CASE_ARGS = ["age=67", "sex=male", "smoking=true", "pain_worse_walking=true"]


def _json(data: Any) -> Any:
    """``data`` as it comes back from JSON (tuples become lists)."""
    return json.loads(json.dumps(data))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- infer ------------------------------------------------------------------------------------------


def test_infer_table_has_triage_ranked_causes_and_disclaimer(capsys):
    code, out, err = _run(capsys, "infer", *CASE_ARGS)
    assert (code, err) == (0, "")
    d = numbdx.infer(CASE)
    assert out.startswith(f"TRIAGE: {d.triage.level.upper().replace('_', '-')}.")  # triage comes first
    positions = [out.index(c.label) for c in d.causes[:10]]
    assert positions == sorted(positions)  # in rank order
    assert "   1  " + d.causes[0].label in out
    assert "Evidence: age=67, sex=male, smoking=true, pain_worse_walking=true" in out
    assert "Assumed: leg_numbness=true" in out
    assert "not a diagnosis" in out
    assert "Method: exact" in out


def test_infer_table_lists_every_red_flag_below_the_top(capsys):
    code, out, _ = _run(capsys, "infer", *CASE_ARGS, "--top", "2")
    assert code == 0
    d = numbdx.infer(CASE)
    for c in d.red_flags:
        assert c.label in out, c.name
    assert out.count("RED FLAG") == len(d.red_flags)
    hidden = [c for c in d.causes[2:] if not c.red_flag]
    assert all(c.label not in out for c in hidden)
    code, out, _ = _run(capsys, "infer", *CASE_ARGS, "--top", "all")
    assert all(c.label in out for c in d.causes) and "below the top" not in out


def test_infer_json_is_the_differential_dict(capsys):
    code, out, err = _run(capsys, "infer", *CASE_ARGS, "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == _json(numbdx.infer(CASE).to_dict())
    assert numbdx.Differential.from_dict(json.loads(out)) == numbdx.infer(CASE)


def test_options_may_come_between_the_evidence(capsys):
    code, out, _ = _run(capsys, "infer", "age=67", "--json", "sex=male", "--method", "exact", "smoking=true")
    assert code == 0
    assert json.loads(out) == _json(numbdx.infer({"age": 67, "sex": "male", "smoking": True}).to_dict())


def test_no_evidence_assumes_the_chief_complaint(capsys):
    code, out, _ = _run(capsys, "infer", "--json")
    assert code == 0
    assert json.loads(out)["assumed"] == ["leg_numbness"]


# --- value parsing ----------------------------------------------------------------------------------


def test_values_are_typed_by_the_variable_kind(model):
    parsed = parse_evidence(
        [
            "smoking=TRUE",
            "numb_heel=false",
            "age=42.5",
            "sex=female",
            "numbness_side=left",
            "numbness_onset=sudden",
            "leg_numbness=True",
            "diabetes=unknown",
            "tingling=yes",
            "numb_heal=true",
            "burning=",
        ],
        model,
    )
    assert parsed == {
        "smoking": True,
        "numb_heel": False,
        "age": 42.5,
        "sex": "female",
        "numbness_side": "left",
        "numbness_onset": "sudden",
        "leg_numbness": True,
        "diabetes": None,
        "tingling": "yes",  # never guessed: infer refuses it by name
        "numb_heal": "true",  # unknown names reach infer as given, for its suggestions
        "burning": "",
    }
    assert type(parse_evidence(["age=67"], model)["age"]) is int
    for text in ("1e2", "+7", ".5", "67."):
        assert parse_evidence([f"age={text}"], model)["age"] == float(text)
    for text in ("nan", "inf", "1_0", "sixty", " 67", "0x10", "9" * 5000):
        assert parse_evidence([f"age={text}"], model)["age"] == text  # refused by infer, not converted
    # true/false are booleans only for yes/no variables
    assert parse_evidence(["sex=true", "age=true"], model) == {"sex": "true", "age": "true"}
    assert parse_evidence(["k=a=b"], model) == {"k": "a=b"}  # split at the first '='


def test_unknown_is_the_same_as_leaving_the_key_out(capsys):
    code, out, _ = _run(capsys, "infer", "age=unknown", "smoking=Unknown", "leg_numbness=unknown", "--json")
    assert code == 0
    assert json.loads(out) == _json(numbdx.infer({}).to_dict())


@given(
    ev=evidence(),
    style=st.sampled_from([str, lambda s: s.lower(), lambda s: s.upper()]),
)
def test_key_value_round_trip(model, ev, style):
    """Evidence written as KEY=VALUE arguments parses back to itself and gives the same answer."""
    # bools in any case; numbers as repr() writes them (exact for floats); state names as they are
    args = [
        f"{k}={style(str(v)) if isinstance(v, bool) else v if isinstance(v, str) else repr(v)}" for k, v in ev.items()
    ]
    parsed = parse_evidence(args, model)
    assert parsed == ev
    assert {k: type(v) for k, v in parsed.items()} == {k: type(v) for k, v in ev.items()}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["infer", *args, "--json"])
    try:
        expected: Any = _json(numbdx.infer(ev).to_dict())
    except numbdx.ImpossibleEvidenceError as exc:
        assert (code, out.getvalue()) == (2, "")
        assert str(exc) in err.getvalue()
    else:
        assert (code, err.getvalue()) == (0, "")
        assert json.loads(out.getvalue()) == expected


# --- errors -----------------------------------------------------------------------------------------


def test_unknown_name_exits_2_with_the_suggestion(capsys):
    code, out, err = _run(capsys, "infer", "age=67", "numb_heal=true", "--json")
    assert (code, out) == (2, "")
    assert "unknown evidence name 'numb_heal'" in err and "'numb_heel'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "item",
    ["smoking=yes", "smoking=1", "age=sixty", "age=nan", "age=-4", "sex=Female", "numbness_side=none", "numb_heel="],
)
def test_invalid_value_exits_2_naming_the_key(capsys, item):
    code, out, err = _run(capsys, "infer", item, "--json")
    assert (code, out) == (2, "")
    key = item.partition("=")[0]
    assert f"evidence {key!r}" in err
    assert err.startswith("numbdx infer: error: ")


def test_impossible_evidence_exits_2(capsys):
    code, out, err = _run(capsys, "infer", "sex=male", "pregnancy=true")
    assert (code, out) == (2, "")
    assert "impossible" in err and "pregnancy" in err
    code, out, err = _run(capsys, "infer", "leg_numbness=false", "numb_heel=true")
    assert (code, out) == (2, "")
    assert "leg_numbness=False" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["infer", "age=67", "age=68"], "'age' is given more than once"),
        (["infer", "smoking"], "must be KEY=VALUE, got 'smoking'"),
        (["infer", "=true"], "has no name"),
        (["infer", "--top", "0"], "argument --top"),
        (["infer", "--method", "guess"], "argument --method"),
        (["infer", "age=67", "--bogus"], "unrecognized arguments: --bogus"),
        (["vocab", "age=67"], "unrecognized arguments: age=67"),
        (["vocab", "--group", "nope"], "no group 'nope'"),
        (["next", "--n", "-1"], "argument --n"),
        (["export"], "--format"),
        (["serve", "--port", "70000"], "argument --port"),
        ([], "required"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert "usage:" in err


def test_other_numbdx_errors_exit_1(capsys, monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise numbdx.InferenceLimitError("too many positive findings for exact inference")

    monkeypatch.setattr(_cli, "infer", refuse)
    code, out, err = _run(capsys, "infer", "age=67", "--method", "exact", "--json")
    assert (code, out) == (1, "")
    assert err == "numbdx infer: error: too many positive findings for exact inference\n"


def test_a_bad_priors_folder_exits_1(capsys, tmp_path):
    code, out, err = _run(capsys, "vocab", "--priors", str(tmp_path))
    assert (code, out) == (1, "")
    assert err.startswith("numbdx vocab: error: ") and "Traceback" not in err


def test_version_and_help(capsys):
    code, out, _ = _run(capsys, "--version")
    assert (code, out) == (0, f"numbdx {numbdx.__version__}\n")
    code, out, _ = _run(capsys, "infer", "--help")
    assert code == 0
    assert "KEY=VALUE" in out and "unknown" in out and "exit codes" in out


# --- next, vocab --------------------------------------------------------------------------------------


def test_next_questions_table_and_json(capsys):
    from numbdx._voi import next_questions

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = next_questions(CASE, 3)
        code, out, _ = _run(capsys, "next", *CASE_ARGS, "--n", "3", "--json")
        assert code == 0
        assert json.loads(out) == _json(expected.to_dict())
        code, out, _ = _run(capsys, "next", *CASE_ARGS, "--n", "3")
    assert code == 0
    for i, q in enumerate(expected, 1):
        assert f"{i:>4}  {q.name}" in out
    assert "Should stop asking: " in out


def test_next_refuses_bad_evidence(capsys):
    code, out, err = _run(capsys, "next", "numb_heal=true")
    assert (code, out) == (2, "")
    assert "'numb_heel'" in err


def test_vocab_lists_every_name(capsys):
    vocabulary = numbdx.vocabulary()
    code, out, _ = _run(capsys, "vocab")
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == list(vocabulary["name"])
    code, out, _ = _run(capsys, "vocab", "--json")
    assert json.loads(out) == _json(vocabulary.to_dict(orient="records"))
    code, out, _ = _run(capsys, "vocab", "--json", "--group", "course")
    assert [r["name"] for r in json.loads(out)] == list(vocabulary.loc[vocabulary["group"] == "course", "name"])


# --- export -------------------------------------------------------------------------------------------


def test_export_xmlbif_parses_back_with_every_variable(capsys, model):
    from pgmpy.readwrite import XMLBIFReader

    code, out, err = _run(capsys, "export", "--format", "xmlbif")
    assert (code, err) == (0, "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = XMLBIFReader(string=out).get_model()
    nodes = set(network.nodes())
    assert set(model.evidence_names()) | set(model.cause_names) <= nodes
    assert nodes == set(model.to_pgmpy().nodes())


def test_export_bif_to_a_file_parses_back(capsys, model, monkeypatch, tmp_path):
    """BIF through a sub-model: pgmpy's BIF parser needs seconds per hundred variables."""
    from pgmpy.readwrite import BIFReader

    sub = model.submodel(SUBMODEL_CAUSES[0])
    monkeypatch.setattr(_cli, "load_model", lambda priors=None: sub)
    target = tmp_path / "numbdx.bif"
    code, out, err = _run(capsys, "export", "--format", "bif", "--output", str(target))
    assert (code, out) == (0, "")
    assert str(target) in err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = BIFReader(path=str(target)).get_model()
    assert set(network.nodes()) == set(sub.to_pgmpy().nodes())
    assert set(sub.evidence_names()) | set(sub.cause_names) <= set(network.nodes())
    assert target.read_text().startswith("network numbdx")


def test_export_to_an_unwritable_file_exits_1(capsys, model, monkeypatch, tmp_path):
    monkeypatch.setattr(_cli, "load_model", lambda priors=None: model.submodel(SUBMODEL_CAUSES[0]))
    code, out, err = _run(capsys, "export", "--format", "bif", "--output", str(tmp_path / "missing" / "x.bif"))
    assert (code, out) == (1, "")
    assert "cannot write" in err


# --- serve --------------------------------------------------------------------------------------------


def _fake_service(monkeypatch: pytest.MonkeyPatch, serve: Any) -> None:
    module = types.ModuleType("numbdx._service")
    module.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "numbdx._service", module)


def test_serve_hands_host_port_and_workers_to_the_service(capsys, monkeypatch):
    calls = []

    def record(host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1) -> None:
        calls.append((host, port, workers))  # instead of starting a server

    if importlib.util.find_spec("numbdx._service") is not None:
        service = pytest.importorskip("numbdx._service")
        monkeypatch.setattr(service, "serve", record)
    else:  # the service module is not there yet: the command's contract is the same
        _fake_service(monkeypatch, record)
    assert _run(capsys, "serve")[0] == 0
    assert _run(capsys, "serve", "--host", "0.0.0.0", "--port", "9000", "--workers", "2")[0] == 0
    assert calls == [("127.0.0.1", 8000, 1), ("0.0.0.0", 9000, 2)]


def _block_web_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import fastapi`` / ``import uvicorn`` fail as if they were not installed."""
    for name in ("fastapi", "uvicorn"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: ModuleNotFoundError


def test_serve_without_the_web_dependencies_names_the_extra(capsys, monkeypatch):
    def lazy_serve(*args: Any, **kwargs: Any) -> None:
        import fastapi  # noqa: F401  (a service that imports its dependencies when called)

    _block_web_modules(monkeypatch)
    _fake_service(monkeypatch, lazy_serve)
    code, out, err = _run(capsys, "serve")
    assert (code, out) == (2, "")
    assert 'pip install "numbdx[service]"' in err and "fastapi" in err
    assert "Traceback" not in err


@pytest.mark.skipif(importlib.util.find_spec("numbdx._service") is None, reason="no numbdx._service yet")
def test_serve_with_the_real_service_module_and_no_web_dependencies(capsys, monkeypatch):
    _block_web_modules(monkeypatch)
    monkeypatch.delitem(sys.modules, "numbdx._service", raising=False)  # re-import it without them
    code, out, err = _run(capsys, "serve", "--port", "0")
    assert (code, out) == (2, "")
    assert 'pip install "numbdx[service]"' in err


def test_other_import_errors_are_not_blamed_on_the_extra(monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ModuleNotFoundError("No module named 'somethingelse'", name="somethingelse")

    _fake_service(monkeypatch, broken)
    with pytest.raises(ModuleNotFoundError, match="somethingelse"):
        main(["serve"])


# --- python -m numbdx ---------------------------------------------------------------------------------


def _python_m(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "numbdx", *argv], capture_output=True, text=True, timeout=120, check=False
    )


def test_python_m_numbdx_json_output_can_be_piped():
    done = _python_m("infer", *CASE_ARGS, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == _json(numbdx.infer(CASE).to_dict())


def test_python_m_numbdx_bad_input_has_no_traceback():
    done = _python_m("infer", "numb_heal=true", "--json")
    assert (done.returncode, done.stdout) == (2, "")
    assert "did you mean 'numb_heel'" in done.stderr
    assert "Traceback" not in done.stderr
