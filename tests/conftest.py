from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("default"), max_examples=40, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout (the articles and reference tables)."""
    path = Path(os.environ.get("NUMBDX_SHARED", REPO.parent / "shared"))
    if not (path / "seeds").is_dir():
        pytest.fail(f"the shared folder with the source articles is missing at {path} (set NUMBDX_SHARED)")
    return path


@pytest.fixture(scope="session")
def model():
    import numbdx

    return numbdx.load_model()


@pytest.fixture
def priors_copy(tmp_path: Path) -> Path:
    """A copy of the shipped ``priors/`` folder to break on purpose."""
    from numbdx._priors import priors_dir

    target = tmp_path / "priors"
    shutil.copytree(priors_dir(), target)
    return target


# the benchmarks' k sweep's twenty positives (benchmarks/_common.py), with its context and negatives:
# 524,288 Quickscore terms, answered exactly over the findings' choices
TWENTY_POSITIVES = (
    "numb_toes", "tingling", "burning", "numb_foot_sole", "aching_pain", "cramps_convulsions",
    "heaviness", "swelling", "chronic_fatigue", "difficulty_walking", "weakness", "only_at_night",
    "coldness", "numb_heel", "pain_worse_walking", "back_pain", "numb_hands", "blood_sugar_high",
    "emg_abnormal", "blood_biochemistry_abnormal",
)  # fmt: skip
TWENTY = {
    "age": 58, "sex": "female", "diabetes": True, "overweight": True, "smoking": False,
    "speech_disturbance": False, "one_sided_paralysis": False, "facial_distortion": False,
    **dict.fromkeys(TWENTY_POSITIVES, True),
}  # fmt: skip


@contextlib.contextmanager
def quickscore_only() -> Iterator[None]:
    """Every row to Quickscore (``numbdx._engine``), none to the elimination over the findings'
    choices (``_engine._by_choices``): to test Quickscore past the thresholds that would send rows
    there, or to have it as the other method's reference."""
    from numbdx import _engine

    names = ("CHOICES_FROM_TERMS", "CHOICES_FROM_TERMS_KERNEL", "AUTO_EXACT_POSITIVES", "AUTO_EXACT_POSITIVES_KERNEL")
    with pytest.MonkeyPatch.context() as patch:
        for name in names:
            patch.setattr(_engine, name, float("inf"))
        yield


def edit_file(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` by ``new`` (``old`` must be there)."""
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def benchmark_module(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (the scripts import each other by bare name, so the folder goes
    on ``sys.path`` while they load)."""
    folder = str(REPO / "benchmarks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)
