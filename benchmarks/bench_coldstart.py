"""Cold start: a fresh Python process that imports numbdx and answers one query, against importing pgmpy.

Run ``python benchmarks/bench_coldstart.py [--quick]``. Each command runs in a fresh process
(``sys.executable -c ...``, started from a scratch directory so the installed packages are imported),
``--runs`` times after one warm-up run of each (which fills the OS file cache, as on any machine
that has run Python before, and writes every imported module's bytecode, as installing a package does:
the processes run with ``PYTHONDONTWRITEBYTECODE`` unset and ``PYTHONPYCACHEPREFIX`` pointing into the
scratch directory, so numbdx from a source checkout and pgmpy from site-packages are both timed with
bytecode and nothing is written into the checkout). The commands are interleaved round by round so that drift in the
machine's load affects them alike. Wall time is measured around the process with
:func:`time.perf_counter`; it includes the interpreter's own start, shown by the ``python -c pass``
row, and the floor of any numpy-based library by the ``import numpy`` row. Target: numbdx import plus
the first answer in under half of ``import pgmpy`` alone.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import _common
from _common import fmt_ratio, fmt_times, markdown_table

EVIDENCE = {"age": 31, "sex": "female", "pregnancy": True, "numb_heel": True, "numbness_side": "left", "swelling": True}
COMMANDS = {
    "python -c pass": "pass",
    "import numpy": "import numpy",  # numbdx's one compiled dependency: the floor of its cold start
    "import numbdx": "import numbdx",
    "import numbdx; numbdx.infer({...})": f"import numbdx; numbdx.infer({EVIDENCE!r})",
    "import pgmpy": "import pgmpy",
    "import pgmpy.models": "import pgmpy.models",
}
MAIN, REFERENCE = "import numbdx; numbdx.infer({...})", "import pgmpy"
TARGET = 0.5


def environment(scratch: str) -> dict[str, str]:
    """The processes' environment: bytecode written and read under ``scratch`` (see the module docstring)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(scratch, "pycache")
    return env


def run_once(code: str, cwd: str) -> float:
    """Wall time of one fresh ``python -c code`` (raises if the command fails)."""
    env = environment(cwd)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def heavy_imports(cwd: str) -> list[str]:
    """Which heavy packages ``import numbdx`` plus one ``infer`` pulls in (the README says neither
    pgmpy nor pandas)."""
    code = (
        f"import sys, json, numbdx; numbdx.infer({EVIDENCE!r}); "
        "print(json.dumps(sorted(m for m in ('pgmpy', 'pandas', 'scipy', 'torch', 'networkx', 'pyagrum') "
        "if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, check=True, capture_output=True, text=True, env=environment(cwd)
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = _common.arguments(__doc__, "5 runs per command instead of 10")
    p.add_argument("--runs", type=int, default=None, help="fresh processes per command (10; --quick 5)")
    args = p.parse_args(argv)
    args.runs = args.runs or (5 if args.quick else 10)
    _common.start("Cold start: fresh processes", args)
    start = time.perf_counter()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory() as scratch:
        for code in COMMANDS.values():  # warm-up: file cache, bytecode
            run_once(code, scratch)
        for _ in range(args.runs):
            for name, code in COMMANDS.items():
                times[name].append(run_once(code, scratch))
        pulled = heavy_imports(scratch)
    reference = statistics.median(times[REFERENCE])
    rows = [
        [f"`{name}`", fmt_times(t), fmt_ratio(statistics.median(t) / reference), len(t)] for name, t in times.items()
    ]
    print(markdown_table(["command", "wall time", f"vs `{REFERENCE}`", "runs"], rows))
    main_ratio = statistics.median(times[MAIN]) / reference
    print(
        f"\nnumbdx import + first answer / `{REFERENCE}` = {main_ratio:.2f} "
        f"(target < {TARGET:g}: {'met' if main_ratio < TARGET else 'not met'}). "
        f"Heavy packages loaded by `import numbdx` + one infer: {', '.join(pulled) or 'none'}."
    )
    print(f"\n{_common.took('bench_coldstart', start)}")


if __name__ == "__main__":
    main()
