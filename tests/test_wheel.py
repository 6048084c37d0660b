"""The knowledge base ships inside the wheel and loads from a fresh virtual environment."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import pytest

import numbdx

from .conftest import REPO


@pytest.mark.slow
def test_built_wheel_installs_and_loads_in_a_fresh_venv(tmp_path, model):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)], check=True
    )
    (wheel,) = dist.glob("numbdx-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "numbdx/priors/causes.toml" in names and "numbdx/py.typed" in names
    assert "numbdx/priors/parsed.jsonl" in names  # the parse cache ships beside the TOML it caches
    assert any(n.startswith("numbdx/priors/links/") for n in names)

    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    python = env / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)], check=True
    )
    code = (
        "import json, numbdx; m = numbdx.load_model(); d = numbdx.infer({'numb_heel': True, 'sex': 'female'});"
        "print(json.dumps({'digest': m.knowledge.digest, 'dir': str(m.knowledge.directory),"
        " 'posteriors': d.posteriors(), 'file': numbdx.__file__}))"
    )
    out = json.loads(
        subprocess.run([str(python), "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    )
    assert out["file"].startswith(str(env)), out["file"]  # the installed wheel, not the source tree
    assert out["dir"].startswith(str(env)) and out["dir"].endswith("numbdx/priors")
    assert out["digest"] == model.knowledge.digest
    assert out["posteriors"] == numbdx.infer({"numb_heel": True, "sex": "female"}).posteriors()


def test_source_checkout_reads_the_top_level_priors(model):
    assert model.knowledge.directory == REPO / "priors"
