"""Engines in worker processes, under a time and a memory bound: pgmpy variable elimination,
pyAgrum lazy propagation, and numbdx itself (for models that may be slow, as in the scaling sweep).

The parent (:func:`run_reference`) sends a job as one JSON line on stdin; the worker builds the
model (the full model, a sub-model or a synthetic one: see :func:`build_model`), exports it, and
reports each case as JSON lines on stdout (``start``, ``warm``, ``done``). The parent enforces the
time bound per answer: it kills a worker that does not answer in time and starts a new one for the
remaining cases. The worker limits its own address space (``RLIMIT_AS``), so an engine that needs
more memory than the bound raises ``MemoryError`` (numpy) or ``std::bad_alloc`` (pyAgrum) instead
of swapping or meeting the OOM killer.

Run as a script only by :func:`run_reference`.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common  # before numpy: one BLAS thread, inherited by the worker

ENGINES = ("pgmpy", "pyagrum", "pyagrum_all")  # the reference engines; "numbdx" also runs in a worker
LABELS = {"pgmpy": "pgmpy VE", "pyagrum": "pyAgrum LP", "pyagrum_all": "pyAgrum LP*", "numbdx": "numbdx"}
SHORT = {"pgmpy": "VE", "pyagrum": "LP", "pyagrum_all": "LP*", "numbdx": "numbdx"}
NOTES = {
    "pgmpy": "pgmpy VariableElimination, one query per cause",
    "pyagrum": "pyAgrum LazyPropagation with the causes as its targets",
    "pyagrum_all": "pyAgrum LazyPropagation as constructed (every variable a target)",
}


@dataclass
class RefResult:
    """One case on one engine: measured times, or the reason there are none."""

    status: str  # "ok", "> 20 s", "MemoryError", "skipped: ...", "error: ..."
    times: list[float] = field(default_factory=list)
    posteriors: dict[str, float] = field(default_factory=dict)
    cold: bool = False  # the only time is the first (warm-up) answer: min_repeats=0 and a slow engine

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


# --- worker side -----------------------------------------------------------------------------------


def _emit(**message: Any) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _is_memory_error(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "bad_alloc" in str(exc)


def _pgmpy_engine(model: Any) -> Any:
    """``answer(evidence) -> {cause: P(True)}`` with pgmpy ``VariableElimination``, one query per cause."""
    import logging
    import warnings

    warnings.simplefilter("ignore", FutureWarning)
    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    from pgmpy.inference import VariableElimination

    network = model.to_pgmpy()
    engine = VariableElimination(network)
    causes = list(model.cause_names)

    def answer(evidence: dict[str, str]) -> dict[str, float]:
        out = {}
        for cause in causes:
            factor = engine.query([cause], evidence=evidence, show_progress=False)
            out[cause] = float(factor.values[factor.state_names[cause].index("True")])
        return out

    return answer


def _pyagrum_engine(model: Any, *, cause_targets: bool = True) -> Any:
    """``answer(evidence)`` with pyAgrum ``LazyPropagation`` on the network pgmpy's XMLBIFWriter exports
    (XMLBIF keeps full precision; pyAgrum's BIF reader rounds tables to float32).

    ``cause_targets``: make the causes the only targets, which lets the engine prune what the
    question does not need; otherwise every variable stays a target, the engine's default.
    """
    import logging
    import warnings

    warnings.simplefilter("ignore", FutureWarning)
    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    import pyagrum as gum
    from pgmpy.readwrite import XMLBIFWriter

    gum.setNumberOfThreads(1)
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "model.bifxml")
        XMLBIFWriter(model.to_pgmpy()).write(path)
        bn = gum.loadBN(path)
    causes = list(model.cause_names)
    engine = gum.LazyPropagation(bn)
    if cause_targets:
        engine.setTargets(set(causes))
    true_index = {c: bn.variable(c).labels().index("True") for c in causes}

    def answer(evidence: dict[str, str]) -> dict[str, float]:
        engine.eraseAllEvidence()
        engine.setEvidence(evidence)
        engine.makeInference()
        return {c: float(engine.posterior(c).tolist()[true_index[c]]) for c in causes}

    return answer


def _numbdx_engine(model: Any) -> Any:
    """``answer(evidence) -> {cause: posterior}`` with :func:`numbdx.infer` (evidence as numbdx names)."""
    import numbdx

    def answer(evidence: dict[str, Any]) -> dict[str, float]:
        d = numbdx.infer(evidence, model=model)
        return {c.name: c.posterior for c in d}

    return answer


def build_model(spec: dict[str, Any]) -> Any:
    """The model a job names: ``{}`` the full model, ``{"causes": [...]}`` a sub-model,
    ``{"synthetic": {"factor": F, "seed": s, "or_factors": ...}}`` a scaled synthetic model."""
    import numbdx

    model = numbdx.load_model()
    if spec.get("causes") is not None:
        return model.submodel(spec["causes"])
    if spec.get("synthetic"):
        from _synthetic import scaled_knowledge_base

        return numbdx.Model(scaled_knowledge_base(model.knowledge, **spec["synthetic"]))
    return model


def worker() -> None:
    """Read one job from stdin, answer its cases, report on stdout."""
    job = json.loads(sys.stdin.readline())
    if job.get("mem_limit_gb"):
        import resource

        limit = int(job["mem_limit_gb"] * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start = time.perf_counter()
    model = build_model(job["model"])
    try:
        if job["engine"] == "numbdx":
            answer = _numbdx_engine(model)
        elif job["engine"] == "pgmpy":
            answer = _pgmpy_engine(model)
        else:
            answer = _pyagrum_engine(model, cause_targets=job["engine"] == "pyagrum")
    except Exception as exc:
        _emit(event="failed", status="MemoryError" if _is_memory_error(exc) else f"error: {type(exc).__name__}")
        return
    _emit(event="ready", setup_s=time.perf_counter() - start)
    for case in job["cases"]:
        index = case["index"]
        _emit(event="start", case=index)
        evidence = case["evidence"] if job["engine"] == "numbdx" else model.pgmpy_evidence(case["evidence"])
        try:
            t0 = time.perf_counter()
            posteriors = answer(evidence)
            warm = time.perf_counter() - t0
        except Exception as exc:
            import numbdx

            if _is_memory_error(exc):
                status = "MemoryError"
            elif isinstance(exc, numbdx.NumbdxError):
                status = _common.describe_error(exc)
            else:
                status = f"error: {type(exc).__name__}: {str(exc)[:80]}"
            _emit(event="done", case=index, status=status)
            continue
        _emit(event="warm", case=index, seconds=warm)
        n = max(job["min_repeats"], min(job["repeats"], int(job["budget"] / max(warm, 1e-9))))
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            answer(evidence)
            times.append(time.perf_counter() - t0)
        _emit(event="done", case=index, status="ok", times=times or [warm], cold=not times, posteriors=posteriors)


# --- parent side -----------------------------------------------------------------------------------


def _kill(proc: subprocess.Popen) -> None:
    """End the worker (its own process group, so nothing it started survives)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


def run_reference(
    engine: str,
    model: dict[str, Any],
    cases: list[dict[str, Any]],
    *,
    timeout: float,
    mem_limit_gb: float,
    repeats: int,
    min_repeats: int,
    budget: float,
    skip_after_failure: bool = False,
    setup_timeout: float = 300.0,
    env: dict[str, str] | None = None,
) -> list[RefResult]:
    """Answer ``cases`` (``{"evidence": {...}}``, numbdx evidence names) with ``engine`` in workers.

    Parameters
    ----------
    engine
        One of :data:`ENGINES` (see :data:`NOTES`), or ``"numbdx"``.
    model
        Which model (see :func:`build_model`).
    timeout
        Seconds one answer may take; a worker that has not answered by then is killed and the case
        reads ``"> {timeout} s"``.
    mem_limit_gb
        Address-space limit of the worker; beyond it the engine raises and the case reads
        ``"MemoryError"``.
    repeats, min_repeats, budget
        Measured runs after one warm-up: ``repeats``, or fewer (not under ``min_repeats``) when
        they would take more than ``budget`` seconds. With ``min_repeats=0``, an answer slower than
        ``budget`` is reported from its warm-up run alone (``cold``).
    skip_after_failure
        Once a case times out or runs out of memory, mark the later cases as skipped instead of
        running them (``--quick``: the k-sweep is ordered by growing k).
    env
        Extra environment variables for the worker (``PYTHONHASHSEED``, say).

    Returns
    -------
    list of RefResult
        One per case, in order.
    """
    results: dict[int, RefResult] = {}
    pending = list(range(len(cases)))
    limit_text = f"> {timeout:g} s"
    while pending:
        job = {
            "engine": engine,
            "model": model,
            "cases": [{"index": i, "evidence": cases[i]["evidence"]} for i in pending],
            "mem_limit_gb": mem_limit_gb,
            "repeats": repeats,
            "min_repeats": min_repeats,
            "budget": budget,
        }
        with tempfile.TemporaryFile(mode="w+") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
                cwd=str(Path(__file__).resolve().parent),
                env={**os.environ, **(env or {})},
            )
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            lines: queue.Queue[str | None] = queue.Queue()

            def read(stream: Any = proc.stdout, out: queue.Queue = lines) -> None:
                for line in stream:
                    out.put(line)
                out.put(None)

            threading.Thread(target=read, daemon=True).start()
            current: int | None = None
            deadline = time.monotonic() + setup_timeout
            failure: str | None = None
            ready = False
            while True:
                try:
                    line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    failure = limit_text if ready else f"error: setup > {setup_timeout:g} s"
                    break
                if line is None:  # the worker died
                    code = proc.wait()
                    if code < 0:
                        failure = f"killed (signal {-code})"
                    elif code == 0 and current is None:
                        failure = None
                    else:
                        stderr.seek(0)
                        tail = stderr.read().strip().splitlines()[-1:] or [""]
                        failure = (
                            "MemoryError"
                            if "MemoryError" in tail[0] or "bad_alloc" in tail[0]
                            else (f"error: exit {code}: {tail[0][:80]}")
                        )
                    break
                message = json.loads(line)
                event = message["event"]
                if event == "failed":  # setup failed: every remaining case shares the failure
                    failure = message["status"]
                    break
                if event == "ready":
                    ready = True
                    deadline = time.monotonic() + setup_timeout
                elif event == "start":
                    current = message["case"]
                    deadline = time.monotonic() + timeout
                elif event == "warm":
                    deadline = time.monotonic() + min_repeats * timeout + budget + 5
                elif event == "done":
                    index = message["case"]
                    results[index] = RefResult(
                        message["status"],
                        message.get("times", []),
                        message.get("posteriors", {}),
                        message.get("cold", False),
                    )
                    pending.remove(index)
                    current = None
                    if skip_after_failure and message["status"] == "MemoryError":
                        failure = "MemoryError"
                        current = index
                        break
            _kill(proc)
        if failure is None:
            if not ready and pending:  # exited cleanly without answering: should not happen
                for i in pending:
                    results[i] = RefResult("error: worker exited")
                pending = []
            continue
        if current is None:  # failed during setup: every remaining case shares the failure
            for i in pending:
                results[i] = RefResult(failure)
            break
        if current in pending:
            results[current] = RefResult(failure)
            pending.remove(current)
        if skip_after_failure and failure in (limit_text, "MemoryError"):
            k_text = cases[current].get("label", f"case {current}")
            for i in pending:
                results[i] = RefResult(f"skipped ({k_text}: {failure})")
            pending = []
    return [results[i] for i in range(len(cases))]


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker()
    else:
        sys.exit("_reference.py is run by the benchmark scripts (run_reference), not directly")
