"""The charts: the differential as bars, the model as a layered network (Agg backend, no display)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import matplotlib

matplotlib.use("Agg")  # before pyplot: the tests never open a window

import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes

import numbdx
from numbdx._plot import INSTALL_HINT, RED, draw_model, plot_differential

MODEL = numbdx.load_model()
STROKE = {
    "age": 68,
    "sex": "male",
    "smoking": True,
    "numbness_side": "right",
    "numbness_onset": "sudden",
    "speech_disturbance": True,
    "facial_distortion": True,
}
HEEL = {"age": 31, "sex": "female", "pregnancy": True, "numb_heel": True, "swelling": False}


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _gids(ax: Axes) -> list[str]:
    return [t.get_gid() for t in ax.texts if t.get_gid()]


# --- the differential -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 3, 10, 40])
def test_plot_bars_and_red_flags(n: int) -> None:
    d = numbdx.infer(STROKE)
    ax = d.plot(n=n)
    assert isinstance(ax, Axes)
    rows = d.causes[:n] + tuple(c for c in d.causes[n:] if c.red_flag)
    assert len(ax.patches) == 3 * len(rows)  # explains, present, prior per cause
    assert [len(c) for c in ax.containers] == [len(rows)] * 3
    labels = ax.get_yticklabels()
    assert len(labels) == len(rows)
    for tick, c in zip(labels, rows):
        assert tick.get_text().startswith(f"{d.rank(c.name)}. ")
        assert ("(red flag)" in tick.get_text()) == c.red_flag
        assert (tick.get_color() == RED) == c.red_flag
    # every red flag is on the chart, whatever n, and its bars are edged red
    assert {c.name for c in d.red_flags} <= {c.name for c in rows}
    explains_bars = ax.containers[0].patches
    for bar, c in zip(explains_bars, rows):
        assert bar.get_width() == pytest.approx(c.explains)
        assert (matplotlib.colors.to_hex(bar.get_edgecolor()) == RED) == c.red_flag


def test_plot_respects_a_given_ax() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    ax = numbdx.infer(HEEL).plot(right, n=4)
    assert ax is right and ax.figure is fig
    assert not left.patches and len(plt.get_fignums()) == 1


def test_plot_rejects_a_bad_n() -> None:
    d = numbdx.infer(HEEL)
    for n in (-1, 2.5, True):
        with pytest.raises(ValueError, match="n must be"):
            plot_differential(d, n=n)  # type: ignore[arg-type]


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "numbdx\[plot\]"') as info:
        numbdx.infer(HEEL).plot()
    assert str(info.value) == INSTALL_HINT
    with pytest.raises(ImportError, match="numbdx\\[plot\\]"):
        MODEL.draw(HEEL)


# --- the model ------------------------------------------------------------------------------------


def test_draw_highlights_the_evidence() -> None:
    ax = MODEL.draw(HEEL)
    assert isinstance(ax, Axes)
    gids = _gids(ax)
    evidence = {g.split(":", 1)[1] for g in gids if g.startswith("evidence:")}
    # every item given, and the assumed chief complaint, is drawn as an evidence node
    assert evidence == {*HEEL, "leg_numbness"}
    labels = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}
    assert labels["evidence:swelling"].endswith(": no") and labels["evidence:age"].endswith(": 31")
    # the causes drawn are the 12 ranked highest
    d = numbdx.infer(HEEL)
    causes = [g.split(":", 1)[1] for g in gids if g.split(":", 1)[1] in MODEL.cause_index]
    assert causes == [c.name for c in d.causes[:12]]
    assert len(ax.collections) == 1 and len(ax.collections[0].get_segments()) > 0


def test_draw_limits_and_given_ax() -> None:
    _fig, ax = plt.subplots()
    out = draw_model(MODEL, STROKE, ax=ax, max_causes=4, max_findings=0)
    assert out is ax and len(plt.get_fignums()) == 1
    gids = _gids(ax)
    assert sum(g.split(":", 1)[1] in MODEL.cause_index for g in gids) == 4
    # max_findings=0: the findings drawn are the evidence only, the chief complaint included
    finding_names = {f.name for f in MODEL.findings} | {"leg_numbness"}
    drawn = {g.split(":", 1)[1] for g in gids} & finding_names
    assert drawn == (set(STROKE) | {"leg_numbness"}) & finding_names
    assert all(g.startswith("evidence:") for g in gids if g.split(":", 1)[1] in drawn)


def test_draw_without_evidence() -> None:
    ax = MODEL.draw(max_causes=None, max_findings=None)
    gids = _gids(ax)
    assert [g for g in gids if g.startswith("evidence:")] == ["evidence:leg_numbness"]  # assumed
    assert sum(g.split(":", 1)[1] in MODEL.cause_index for g in gids) == len(MODEL.causes)


@pytest.mark.parametrize(("option", "value"), [("max_causes", 0), ("max_findings", -1), ("max_causes", 1.5)])
def test_draw_rejects_bad_limits(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=option):
        MODEL.draw(**{option: value})  # type: ignore[arg-type]


def test_draw_rejects_bad_evidence() -> None:
    with pytest.raises(numbdx.UnknownEvidenceError):
        MODEL.draw({"numb_heal": True})
