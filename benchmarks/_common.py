"""Shared helpers of the benchmark scripts: timing, formatting, machine description, evidence.

Import this module before numpy (the scripts do): it pins BLAS/OpenMP thread pools to one thread so
that every engine, in process or in a worker process, runs on one core and the figures compare like
with like. Nothing here asserts a target; the scripts print figures.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Before numpy is imported anywhere (none of the imports above does): one thread per BLAS/OpenMP pool.
# Worker processes inherit the environment.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# --- evidence used by the benchmarks ---------------------------------------------------------------

# The k-sweep: positive findings in the order a patient with a gradual polyneuropathy-like picture
# would report them (where, how it feels, pain, signs, then test results). Fixed so that runs compare;
# chosen for clinical plausibility, not for the engine: k = 0, 1, 3, 6, 10, 13, 15, 20 take prefixes.
POSITIVES: tuple[str, ...] = (
    "numb_toes",
    "tingling",
    "burning",
    "numb_foot_sole",
    "aching_pain",
    "cramps_convulsions",
    "heaviness",
    "swelling",
    "chronic_fatigue",
    "difficulty_walking",
    "weakness",
    "only_at_night",
    "coldness",
    "numb_heel",
    "pain_worse_walking",
    "back_pain",
    "numb_hands",
    "blood_sugar_high",
    "emg_abnormal",
    "blood_biochemistry_abnormal",
)
# Context, a few risk factors and the usual triage negatives (no stroke signs), in every k-sweep case.
BASE_EVIDENCE: dict[str, Any] = {
    "age": 58,
    "sex": "female",
    "diabetes": True,
    "overweight": True,
    "smoking": False,
    "speech_disturbance": False,
    "one_sided_paralysis": False,
    "facial_distortion": False,
}
K_VALUES: tuple[int, ...] = (0, 1, 3, 6, 10, 13, 15, 20)  # 13: the most the kernels try exactly

# Nested sub-models (the real numbers, a growing set of causes; other_cause is always added by
# Model.submodel): the first n of this list, mixing the groups so the k-sweep findings stay relevant.
SUBMODEL_ORDER: tuple[str, ...] = (
    "diabetic_neuropathy",
    "lumbar_disc_herniation",
    "stroke",
    "thrombosis",
    "tunnel_syndrome",
    "atherosclerosis",
    "multiple_sclerosis",
    "heel_spur_fasciitis",
    "lumbosacral_osteochondrosis",
    "vitamin_deficiency",
    "varicose_veins",
    "raynauds_disease",
    "sciatic_neuritis",
    "mortons_neuroma",
    "pregnancy_compression",
    "positional_compression",
)
SUBMODEL_SIZES: tuple[int, ...] = (2, 4, 6, 8, 12, 16)


def k_evidence(k: int) -> dict[str, Any]:
    """The k-sweep evidence: :data:`BASE_EVIDENCE` plus the first ``k`` of :data:`POSITIVES`."""
    if not 0 <= k <= len(POSITIVES):
        raise ValueError(f"k must be between 0 and {len(POSITIVES)}")
    return {**BASE_EVIDENCE, **dict.fromkeys(POSITIVES[:k], True)}


def count_positives(model: Any, evidence: Mapping[str, Any]) -> int:
    """Binary findings given as present; context, risk factors, the chief complaint and categorical
    findings (side, onset, course) are not counted."""
    binary = {f.name for f in model.findings if f.kind == "binary"}
    return sum(1 for name, value in evidence.items() if value is True and name in binary)


def restrict(model: Any, evidence: Mapping[str, Any]) -> dict[str, Any]:
    """``evidence`` without the names ``model`` does not know (a sub-model keeps only its findings)."""
    names = set(model.evidence_names())
    return {k: v for k, v in evidence.items() if k in names}


class _PytestStub(types.ModuleType):
    """Just enough of pytest to load the cases file where only the [bench] extra is installed:
    ``pytest.param`` keeps values and id; every ``pytest.mark.*`` is a no-op decorator."""

    class _Mark:
        def __getattr__(self, name: str) -> Callable[..., Callable[[Any], Any]]:
            return lambda *args, **kwargs: lambda obj: obj

    def __init__(self) -> None:
        super().__init__("pytest")
        self.mark = self._Mark()

    @staticmethod
    def param(*values: Any, id: str | None = None, marks: Any = ()) -> Any:  # "id" as pytest.param names it
        return types.SimpleNamespace(values=values, id=id, marks=marks)


def article_cases() -> list[tuple[str, dict[str, Any]]]:
    """The article-derived patients of ``tests/test_article_cases.py``: ``(id, evidence)`` pairs."""
    path = REPO / "tests" / "test_article_cases.py"
    spec = importlib.util.spec_from_file_location("_numbdx_article_cases", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    stubbed = importlib.util.find_spec("pytest") is None
    if stubbed:
        sys.modules["pytest"] = _PytestStub()
    try:
        spec.loader.exec_module(module)
    finally:
        if stubbed:
            del sys.modules["pytest"]
    return [(case.id, dict(case.values[0])) for case in module.CASES]


# --- exact-inference work: terms and the arithmetic floor ----------------------------------------

_NEEDS = re.compile(r"needs (\d+) exact-inference terms")


def term_count(model: Any, evidence: Mapping[str, Any]) -> tuple[int | None, str]:
    """Number of Quickscore terms numbdx sums for ``evidence``, and how it was obtained.

    Tries ``numbdx._engine._terms`` (the engine's term expansion), then the ``terms`` the engine
    reports with its answer, then the count quoted by an ``InferenceLimitError``. The engine is being
    optimised, so each is optional; ``(None, reason)`` when none applies.
    """
    import numpy as np

    import numbdx
    from numbdx import _engine
    from numbdx._evidence import normalise

    ev = normalise(model, dict(evidence))
    try:
        if hasattr(_engine, "_terms"):
            return int(_engine._terms(model, ev.findings, np.float64).coef.size), "_terms"
        answer = _engine.infer_exact(model, ev)
        return int(np.asarray(answer.terms).ravel()[0]), "answer.terms"
    except numbdx.InferenceLimitError as exc:
        match = _NEEDS.search(str(exc))
        if match:
            return int(match.group(1)), "limit message"
        return None, "InferenceLimitError without a count"
    except (AttributeError, TypeError) as exc:
        return None, f"engine API changed ({type(exc).__name__})"


def _moebius_size(allowed: frozenset[int], n_patterns: int) -> int:
    """Number of subsets ``B`` with a non-zero coefficient in ``P(pattern in A) = sum_B c_B P(pattern
    subset of B)`` (Moebius inversion over the patterns' bit masks)."""
    size = 0
    for subset in range(n_patterns):
        c = sum((-1) ** (bin(a).count("1") - bin(subset).count("1")) for a in allowed if a & subset == subset)
        size += c != 0
    return size


def quickscore_terms(model: Any, evidence: Mapping[str, Any]) -> int:
    """Terms of plain Quickscore for ``evidence``, independent of the engine's implementation.

    A negative finding is one product (1 term); a positive one is ``1 - P(off)`` (2 terms), except
    that a positive with at most one cause is 1 term (its ``P(on)`` depends on that cause alone, so it
    is a product over causes, as numbdx takes it); the side finding (left/right/both/unknown with leg
    numbness) takes its Moebius terms (2, or 4 for "both"). The product over findings is the number
    of terms. numbdx may use more (a cancellation-free expansion of rare findings with three causes or
    more, for precision); see :func:`term_count`.
    """
    from numbdx._evidence import normalise

    ev = normalise(model, dict(evidence))
    terms = 1
    for index, allowed in ev.findings.items():
        f = model.findings[index]
        if len(allowed) == f.n_patterns:
            continue  # any pattern: no information
        if f.n_patterns == 2 and len(f.parents) <= 1:
            continue  # one product, whatever the pattern
        terms *= _moebius_size(allowed, f.n_patterns)
    return terms


# Floor: per Quickscore term (T from quickscore_terms, plus the one term of the context-only
# prior) and per cause (C), the exact method must at least (1) multiply the cause's summed-out factor
# into the term's product, (2) form the cause's cavity (the product of the other causes, by
# prefix/suffix products), and (3, 4) apply the two clamps, "present" and "activating the numbness",
# and accumulate them over terms. Summing out the risk-factor layer only adds work (none when it is
# fully observed), so this is a lower bound on the arithmetic of the method, whatever the
# implementation.
FLOOR_MADDS_PER_TERM_CAUSE = 4
_FLOOR_CAP = 1 << 21  # elements per array in the rate measurement (3 arrays of 16 MB)
_rate_cache: dict[int, float] = {}


def floor_madds(terms: int, causes: int) -> int:
    """Multiply-adds of the floor: ``(terms + 1) * causes * 4`` (see the comment above)."""
    return (terms + 1) * causes * FLOOR_MADDS_PER_TERM_CAUSE


def madd_rate(elements: int, *, budget: float = 0.2) -> float:
    """Multiply-adds per second of a numpy ``out = a * b + out`` pass over float64 arrays of
    ``elements`` (capped at 2**21), measured on this machine: median of repeated passes."""
    import numpy as np

    n = int(min(max(elements, 1), _FLOOR_CAP))
    bucket = 1 << max(0, (n - 1).bit_length())  # arrays of similar size share a measurement
    n = min(bucket, _FLOOR_CAP)
    if n in _rate_cache:
        return _rate_cache[n]
    rng = np.random.default_rng(0)
    a, b, out = (rng.random(n) for _ in range(3))
    tmp = np.empty(n)

    def one_pass() -> None:
        np.multiply(a, b, out=tmp)
        np.add(tmp, out, out=out)

    times = timed(one_pass, repeats=200, budget=budget, min_repeats=5).times
    rate = n / statistics.median(times)
    _rate_cache[n] = rate
    return rate


def floor_seconds(terms: int, causes: int) -> tuple[float, float]:
    """``(floor time in seconds, rate used)`` for ``terms`` Quickscore terms over ``causes`` causes.

    The floor is four numpy multiply-add passes over float64 arrays of ``(terms + 1) * causes``
    elements; the rate is measured at that array size (capped at 2**21 elements, then extrapolated
    linearly), so small cases carry numpy's per-call overhead as any numpy implementation would.
    """
    madds = floor_madds(terms, causes)
    rate = madd_rate((terms + 1) * causes)
    return madds / rate, rate


def method_floor_seconds(model: Any, evidence: Mapping[str, Any], terms: int) -> float | None:
    """A tighter floor for numbdx's own method: per term, the multiply-adds of summing out the
    risk-factor layer (forward pass only, the least that yields Z), with the evidence's observed
    variables selected, times ``terms``, at this machine's rate for arrays of one step's size.

    Per term: each cause's factor ``alpha * a + beta * b`` (2 multiply-adds an entry) and each
    elimination step's product of its operands and sum over the eliminated variable (one multiply-add
    per operand and entry of the union table). The reverse pass that gives every cause's posterior
    is not counted, so numbdx cannot reach this either. None if the engine's internals changed.
    """
    import numpy as np

    try:
        from numbdx import _engine
        from numbdx._evidence import normalise

        codes = _engine.codes_from_evidence(model, [normalise(model, dict(evidence))])
        compiled = _engine._compile(model)
        plan, _, causes = _engine._factors(model, compiled, codes.upper, np.float64)
    except (AttributeError, TypeError, ValueError):
        return None
    widest = max((len(gathers[0]) for _, gathers, _, _ in plan.steps), default=1)
    return terms * forward_madds_per_term(plan, causes) / madd_rate(terms * widest)


def by_choices(model: Any, evidence: Mapping[str, Any]) -> bool | None:
    """Whether numbdx eliminates ``evidence`` over its findings' choices rather than by Quickscore
    (``_engine._by_choices``, for one patient with the kernels as now loaded); None if the engine's
    internals changed."""
    try:
        from numbdx import _engine
        from numbdx._evidence import normalise

        codes = _engine.codes_from_evidence(model, [normalise(model, dict(evidence))])
        return bool(_engine._by_choices(_engine._compile(model), codes)[0])
    except (AttributeError, TypeError, ValueError):
        return None


def choice_floor_seconds(model: Any, evidence: Mapping[str, Any]) -> float | None:
    """The floor of numbdx's elimination over the findings' choices for ``evidence``: its forward
    pass's multiply-adds, one per operand and entry of each step's product table (the order numbdx
    takes, ``_choice_elimination._order``: its plan's ``work``), at this machine's rate for arrays
    of its largest table.
    Counted in float64; numbdx runs it in double-double (some 20 float64 operations per
    multiply-add), twice (signed, then absolute values for the bound), and adds a backward pass for
    the posteriors, so it cannot come near this. None if the engine's internals changed."""
    try:
        from numbdx import _choice_elimination, _engine
        from numbdx._evidence import normalise

        codes = _engine.codes_from_evidence(model, [normalise(model, dict(evidence))])
        problem = _choice_elimination._problem(model, codes.upper[0], codes.findings[0], int(codes.side[0]), "absolute")
        plan = _choice_elimination._order([f.scope for f in problem.factors], problem.cards)
    except (AttributeError, TypeError, ValueError):
        return None
    return plan.work / madd_rate(plan.largest)


def forward_madds_per_term(plan: Any, causes: Sequence[Any]) -> int:
    """One term's forward elimination of the risk-factor layer, in multiply-adds, for the engine's
    ``plan`` and cause factors (``_engine._factors``): 2 per entry of each cause's factor, and per step
    one per operand and entry of its union table (see :func:`method_floor_seconds`)."""
    per_term = sum(2 * alpha.shape[-1] for _, alpha, _ in causes)
    return per_term + sum(len(gathers[0]) * len(involved) for involved, gathers, _, _ in plan.steps)


# --- timing ----------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Times of the measured runs (after one warm-up), or the error the call raised."""

    times: list[float] = field(default_factory=list)
    warmup: float | None = None
    error: BaseException | None = None
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def timed(
    fn: Callable[[], Any],
    *,
    repeats: int,
    budget: float,
    min_repeats: int = 3,
    catch: type[BaseException] | tuple[type[BaseException], ...] = (),
    warmup: bool = True,
) -> Timing:
    """Warm up once, then time ``fn`` with :func:`time.perf_counter`.

    Runs ``repeats`` times, or fewer (never under ``min_repeats``) when that would exceed ``budget``
    seconds. An exception of a type in ``catch`` during the warm-up is recorded, not raised.
    ``warmup=False`` (the caller warmed up on a smaller input): every run, the first included, is
    measured, ``min_repeats`` times at least. ``result`` is what the first call returned.
    """
    out = Timing()
    if warmup:
        start = time.perf_counter()
        try:
            out.result = fn()
        except catch as exc:
            out.error = exc
            out.warmup = time.perf_counter() - start
            return out
        out.warmup = time.perf_counter() - start
        n = max(min_repeats, min(repeats, int(budget / max(out.warmup, 1e-9))))
    else:
        n = max(min_repeats, 1)
    for i in range(n):
        start = time.perf_counter()
        result = fn()
        out.times.append(time.perf_counter() - start)
        if i == 0 and not warmup:
            out.result = result
    return out


# --- formatting ------------------------------------------------------------------------------------


def _unit(seconds: float) -> tuple[float, str]:
    if seconds < 1e-3:
        return 1e6, "us"
    if seconds < 1:
        return 1e3, "ms"
    return 1.0, "s"


def _num(value: float) -> str:
    """Three significant digits, without exponent notation (``1030``, not ``1.03e+03``)."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def fmt_seconds(seconds: float) -> str:
    """``0.00123`` -> ``"1.23 ms"``."""
    scale, unit = _unit(seconds)
    return f"{_num(seconds * scale)} {unit}"


def fmt_times(times: Sequence[float]) -> str:
    """Median and min-max in the median's unit: ``"5.1 ms [4.9-5.6]"`` (``n=1``: the one value)."""
    if not times:
        return "n/a"
    med = statistics.median(times)
    scale, unit = _unit(med)
    if len(times) == 1:
        return f"{_num(med * scale)} {unit} (n=1)"
    return f"{_num(med * scale)} {unit} [{_num(min(times) * scale)}-{_num(max(times) * scale)}]"


def fmt_ratio(ratio: float | None) -> str:
    """``1234.5`` -> ``"1,234x"``; ``None`` -> ``"-"``."""
    if ratio is None:
        return "-"
    if ratio >= 100:
        return f"{ratio:,.0f}x"
    if ratio >= 1:
        return f"{ratio:.1f}x"
    return f"{ratio:.2f}x"


def fmt_count(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f}"


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table, columns padded for reading in a terminal."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def describe_error(exc: BaseException) -> str:
    """A short table cell for an error numbdx or an engine raised."""
    name = type(exc).__name__
    text = str(exc)
    match = _NEEDS.search(text)
    if match:
        return f"{name} ({int(match.group(1)):,} terms)"
    if "precision" in text:
        return f"{name} (precision)"
    return name


# --- the machine -----------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str, strip: bool = True) -> str:
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
        return done.stdout.strip() if strip else done.stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict[str, str]:
    """Where the figures come from: CPU, cores, versions, numbdx commit and whether src/ is modified."""
    # porcelain lines are "XY path": stripping the whole output would eat the first line's X column
    dirty = [line[3:] for line in _git("status", "--porcelain", "--", "src", "priors", strip=False).splitlines()]
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "nproc": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "pandas": _version("pandas"),
        "pgmpy": _version("pgmpy"),
        "pyAgrum": _version("pyagrum"),
        "numbdx": _version("numbdx"),
        "commit": (_git("rev-parse", "--short", "HEAD") or "unknown")
        + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else ""),
        "threads": f"BLAS/OpenMP pools {os.environ.get('OPENBLAS_NUM_THREADS')}; "
        f"CPU affinity {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else 'n/a'}",
    }


def arguments(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """A script's argument parser (its docstring's first line as description) with the options
    every script takes: ``--quick`` (``quick_help`` says what it reduces) and ``--all-cores``."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=quick_help)
    p.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    return p


def start(title: str, args: Any) -> None:
    """Pin to one core (unless ``--all-cores``) and print the header: what every script does first."""
    if not args.all_cores:
        pin_to_one_core()
    mark_steal()
    print_header(title, args)


# /proc/stat's fields per CPU, in clock ticks: user nice system idle iowait irq softirq steal ...
_STEAL_FIELD = 7
_STEAL_AT_START: dict[str, tuple[int, int]] = {}


def cpu_ticks() -> dict[str, tuple[int, int]]:
    """Per CPU of this process's affinity (``cpu0`` ...): ticks the hypervisor stole and all ticks,
    from ``/proc/stat`` (empty where there is none)."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    ticks = {}
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in allowed:
                values = [int(v) for v in fields[:8]]
                ticks[name] = (values[_STEAL_FIELD] if len(values) > _STEAL_FIELD else 0, sum(values))
    except (OSError, ValueError):
        return {}
    return ticks


def mark_steal() -> None:
    """Read the steal of this process's CPUs now, for :func:`took` (``start`` does it; a script that
    places its processes itself calls it once they are placed)."""
    _STEAL_AT_START.clear()
    _STEAL_AT_START.update(cpu_ticks())


def took(script: str, started: float) -> str:
    """The closing line of a script: its wall time, and the share of its CPUs' time that the
    hypervisor took for other guests while it ran (steal, from ``/proc/stat``). On a shared virtual
    machine that share makes the same code slower from one run to the next: say it beside the figures."""
    line = f"{script} took {time.perf_counter() - started:.0f} s"
    now = cpu_ticks()
    stolen = [(now[c][0] - s0, now[c][1] - t0) for c, (s0, t0) in _STEAL_AT_START.items() if c in now]
    if stolen and sum(t for _, t in stolen) > 0:
        share = sum(s for s, _ in stolen) / sum(t for _, t in stolen)
        line += f"; steal on {', '.join(sorted(_STEAL_AT_START))} (/proc/stat): {share:.0%} of the time"
    return line + "."


def pin_to_one_core() -> None:
    """Restrict this process (and the processes it starts) to one CPU: "on one core" figures."""
    if hasattr(os, "sched_getaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})


def kernel_description() -> str:
    """Which implementation runs numbdx's column elimination in this process (``numbdx._kernel``)."""
    from numbdx import _kernel
    from numbdx._engine import KERNEL_MIN_TERMS

    if _kernel.active() == "numpy":
        return "numpy (numba not installed, or NUMBDX_KERNEL=numpy)"
    import numba

    return (
        f"numba {numba.__version__} kernels for frames, for one patient from {KERNEL_MIN_TERMS} terms and "
        "for one patient's extended precision (NUMBDX_KERNEL=numpy for numpy)"
    )


def warm_kernels(model: Any) -> None:
    """Load numbdx's compiled kernels before anything is timed, as ``numbdx serve`` does at start-up
    (``_engine.warm_kernels``), and say so: once they are loaded, a small query's float64 elimination
    runs on them too, with numpy's numbers bit for bit, about twice as fast. A process that has not
    loaded them (a script's first small queries) runs numpy's; that cold start is bench_coldstart's."""
    from numbdx._engine import warm_kernels as warm

    loaded = warm(model)
    print(
        "numbdx's kernels loaded before timing, as a service does at start-up: small queries' float64 "
        "eliminations run on them (numpy's numbers bit for bit).\n"
        if loaded
        else "numbdx's kernels are not in use: every elimination on numpy.\n",
        flush=True,
    )


def print_header(title: str, args: Any) -> None:
    """Title, the machine and the options, before a script's tables."""
    print(f"## {title}\n")
    info = machine_info()
    print(
        f"Machine: {info['cpu']}, nproc={info['nproc']}; Python {info['python']}, numpy {info['numpy']}, "
        f"pandas {info['pandas']}, pgmpy {info['pgmpy']}, pyAgrum {info['pyAgrum']}; numbdx {info['numbdx']} "
        f"at {info['commit']}; {info['threads']}; {info['date']}."
    )
    print(f"Column elimination: {kernel_description()}.")
    options = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    print(f"Options: {json.dumps(options, default=str)}\n", flush=True)


def python_executable() -> str:
    return sys.executable
