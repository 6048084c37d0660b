"""The example notebooks run top to bottom, and their HTML renders in a real browser.

Each notebook in ``examples/`` is executed with nbclient in a fresh kernel started from this interpreter
(a ``python3`` kernel spec written to a temporary ``JUPYTER_PATH``, so that a ``python3`` kernel
installed elsewhere on the machine cannot run the notebooks with another Python). Any cell error fails
the test. The browser test puts the differential's ``text/html`` output of the executed quickstart into a
standalone page, has headless Chromium parse it (``--dump-dom``) and checks that the ranked causes are in
the rendered table; it skips, naming the Debian package, when Chromium is not installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import numbdx

from .conftest import REPO

EXAMPLES = REPO / "examples"
NOTEBOOKS = ("quickstart", "session", "cohort")
CELL_TIMEOUT = 120  # seconds per cell; the slowest cell takes about 2 s
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_SKIP = (
    "headless Chromium not found (looked for chromium, chromium-browser and $NUMBDX_CHROMIUM): "
    "install the Debian package `chromium` (apt-get install -y chromium)"
)


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JUPYTER_PATH whose ``python3`` kernel is this interpreter (found before any other)."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (numbdx tests)",
                "language": "python",
            }
        )
    )
    return root


@pytest.fixture(scope="module")
def executed(kernel_path: Path) -> Any:
    """``executed(stem)``: the notebook run once per module (the browser test reuses the quickstart)."""
    cache: dict[str, nbformat.NotebookNode] = {}

    def run(stem: str) -> nbformat.NotebookNode:
        if stem not in cache:
            nb = nbformat.read(EXAMPLES / f"{stem}.ipynb", as_version=4)
            with pytest.MonkeyPatch.context() as mp:
                # read when the kernel spec manager is built, inside execute()
                mp.setenv(
                    "JUPYTER_PATH", os.pathsep.join(filter(None, [str(kernel_path), os.environ.get("JUPYTER_PATH")]))
                )
                client = NotebookClient(
                    nb,
                    kernel_name="python3",
                    timeout=CELL_TIMEOUT,
                    # the notebooks run from examples/, as they would in Jupyter (cohort imports cohort_dask)
                    resources={"metadata": {"path": str(EXAMPLES)}},
                )
                client.execute()  # raises CellExecutionError, naming the cell, on any error
            cache[stem] = nb
        return cache[stem]

    return run


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_notebook_is_stored_clean(stem: str) -> None:
    """Stored without outputs or execution counts: the tests run them, and diffs stay readable."""
    nb = nbformat.read(EXAMPLES / f"{stem}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{stem}: cell {cell.id} has outputs"


@pytest.mark.parametrize("stem", NOTEBOOKS)
def test_notebook_runs(stem: str, executed: Any) -> None:
    nb = executed(stem)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
    # The rich views reached the notebook: HTML for the numbdx objects, PNG for the charts.
    mimes = {m for c in code for o in c.outputs for m in o.get("data", {})}
    assert "image/png" in mimes
    html_outputs = [h for _, h in _html_outputs(nb)]
    assert any("<table" in h for h in html_outputs)  # the cohort's are pandas' own
    if stem == "quickstart":
        assert any('class="numbdx"' in h for h in html_outputs)  # a differential
        assert any('class="numbdx-model"' in h for h in html_outputs)


def _html_outputs(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    """``(text/plain, text/html)`` of every rich output, in order."""
    return [
        (o.data.get("text/plain", ""), o.data["text/html"])
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {})
    ]


class _TableText(HTMLParser):
    """The text of each ``<summary>`` inside the differential table of a DOM, and each row's cause."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False  # inside <div class="numbdx-differential">, before its table
        self.depth = 0  # > 0 inside that table
        self.in_summary = False
        self.causes: list[str] = []
        self.summaries: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "div" and "numbdx-differential" in (a.get("class") or ""):
            self.armed = True
        elif tag == "table" and (self.depth or self.armed):
            self.depth += 1
            self.armed = False
        elif self.depth and tag == "tr" and a.get("data-cause"):
            self.causes.append(a["data-cause"] or "")
        elif self.depth and tag == "summary":
            self.in_summary = True
            self.summaries.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "summary":
            self.in_summary = False

    def handle_data(self, data: str) -> None:
        if self.in_summary:
            self.summaries[-1] += data


def _chromium() -> str | None:
    named = os.environ.get("NUMBDX_CHROMIUM")
    if named:
        return named
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def test_quickstart_table_renders_in_chromium(executed: Any, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip(CHROMIUM_SKIP)
    nb = executed("quickstart")
    # The first differential of the notebook; its plain repr (the same output's text/plain) names the
    # top cause independently of the HTML.
    plain, table = next((p, h) for p, h in _html_outputs(nb) if 'class="numbdx"' in h and "Differential" in p)
    top_name = re.search(r"^\s+1\. (\w+)", plain, re.MULTILINE).group(1)
    model = numbdx.load_model()
    top_label = model.causes[model.cause_index[top_name]].label
    red_flags = [c.name for c in model.causes if c.red_flag]

    page = tmp_path / "quickstart.html"
    page.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>numbdx</title></head><body>{table}</body></html>'
    )
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # tests may run as root (in CI containers), where the sandbox refuses to start
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _TableText()
    dom.feed(result.stdout)
    # The browser built a table whose first row is the top cause, labelled, and every red flag is in it.
    assert dom.causes and dom.causes[0] == top_name, dom.causes
    assert dom.summaries[0].strip() == top_label
    assert set(red_flags) <= set(dom.causes)
    assert "<script" not in result.stdout.lower()
