"""Charts for notebooks: the differential as bars, the model as a layered network.

matplotlib is an optional dependency (the ``plot`` extra) and is imported only when a chart is drawn,
so ``import numbdx`` never pays for it. pyplot is imported only to create a figure when no ``ax`` is
given: drawing on a given Axes works under any backend, Agg included.

The network layout is computed here (three columns, ordered by barycentres to reduce crossings)
rather than with networkx: the model is layered by construction (risk factors -> causes -> findings),
so a layered layout is both simpler and more readable than a general graph layout, and it needs no
further dependency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._display import value_text

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ._model import Model
    from ._result import CauseResult, Differential

__all__ = ["INSTALL_HINT", "draw_model", "plot_differential"]

INSTALL_HINT = 'numbdx charts need matplotlib: pip install "numbdx[plot]"'
RED = "#c62828"
EXPLAINS = "#1f77b4"
PRESENT = "#9ecae1"
PRIOR = "#9e9e9e"
EVIDENCE_FACE = "#ffd54f"
EVIDENCE_EDGE = "#e65100"
MAX_LABEL = 38  # characters of a node label before it is shortened


def _matplotlib() -> Any:
    """The matplotlib module, or an ImportError that names the extra to install."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return matplotlib


def _new_axes(width: float, height: float) -> Axes:
    _matplotlib()
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(width, height))
    return ax


def _percent(p: float) -> str:
    return "0%" if p == 0 else f"{p:.0e}" if p < 0.001 else f"{p:.1%}"


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


# --- the differential -----------------------------------------------------------------------------


def _rows(d: Differential, n: int) -> tuple[list[CauseResult], int]:
    """The top ``n`` causes, then the red flags ranked below them; and how many are in the top."""
    top = list(d.causes[:n])
    return top + [c for c in d.causes[n:] if c.red_flag], len(top)


def plot_differential(d: Differential, ax: Axes | None = None, *, n: int = 10) -> Axes:
    """Horizontal bars of the top ``n`` causes and every red flag: explains, present and prior.

    Three bars per cause, top to bottom: P(present and producing the numbness | evidence), the
    ranking quantity; P(present | evidence); and the prior, P(present | context and risk factors).
    A cause whose "present" bar is far longer than its "explains" bar is likely there but not behind
    the numbness. Red-flag causes are marked (red label with "(red flag)", red bar edges) and those
    ranked below ``n`` are added after a dashed line, whatever their probability.

    Parameters
    ----------
    d : Differential
        The differential to plot.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure sized to the rows by default.
    n : int
        Causes shown in rank order (non-negative).

    Returns
    -------
    matplotlib.axes.Axes
        The axes; ``ax.containers`` holds the three bar containers, labelled.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "numbdx[plot]"``).
    ValueError
        ``n`` is not a non-negative integer.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    _matplotlib()
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    rows, n_top = _rows(d, n)
    if ax is None:
        ax = _new_axes(8.5, 1.6 + 0.42 * max(len(rows), 1))
    y = list(range(len(rows)))
    h = 0.27
    quantities = (
        ("explains the numbness", "explains", EXPLAINS, -h),
        ("present", "posterior", PRESENT, 0.0),
        ("prior", "prior", PRIOR, h),
    )
    for label, attribute, colour, offset in quantities:
        values = [getattr(c, attribute) for c in rows]
        edges = [RED if c.red_flag else colour for c in rows]
        ax.barh(
            [v + offset for v in y],
            values,
            height=h,
            color=colour,
            edgecolor=edges,
            linewidth=[1.2 if c.red_flag else 0.0 for c in rows],
            label=label,
        )
    for i, c in enumerate(rows):  # the ranking quantity, written out: small red flags stay readable
        ax.text(c.explains + 0.01, i - h, _percent(c.explains), va="center", fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{d.rank(c.name)}. {_short(c.label)}" + (" (red flag)" if c.red_flag else "") for c in rows])
    for tick, c in zip(ax.get_yticklabels(), rows):
        if c.red_flag:
            tick.set_color(RED)
    if len(rows) > n_top:
        ax.axhline(n_top - 0.5, color=RED, linestyle="--", linewidth=0.8)
        ax.text(1.0, n_top - 0.45, "red flags, listed whatever their rank", color=RED, fontsize=7, ha="right", va="top")
    ax.set_ylim(len(rows) - 0.5, -0.5)  # rank 1 on top
    ax.set_xlim(0, 1.0)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("probability")
    title = "numbdx differential"
    if d.triage is not None:
        title += f" \u2014 triage: {d.triage.level.replace('_', '-')}"
    ax.set_title(title, loc="left")
    # Handles of our own: the bars' first edge may be a red flag's, which is not what the colours mean.
    handles = [Patch(facecolor=colour, label=label) for label, _, colour, _ in quantities]
    handles.append(Patch(facecolor="white", edgecolor=RED, label="red flag"))
    ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return ax


# --- the model ------------------------------------------------------------------------------------


@dataclass
class _Node:
    key: str  # evidence name (or cause name)
    label: str
    layer: int  # 0 risk factors and context, 1 causes, 2 findings
    evidence: bool = False
    value: Any = None
    order: float = 0.0
    y: float = 0.0


def _barycentre(weights: Mapping[int, float], y: Mapping[int, float], default: float) -> float:
    total = sum(weights.values())
    return default if total <= 0 else sum(w * y[c] for c, w in weights.items()) / total


def _spread(nodes: Sequence[_Node]) -> None:
    """Evenly spaced heights, top (1) to bottom (0), in the nodes' order."""
    for i, node in enumerate(nodes):
        node.y = 1.0 - (i + 0.5) / len(nodes)


def draw_model(
    model: Model,
    evidence: Mapping[str, Any] | None = None,
    *,
    ax: Axes | None = None,
    max_causes: int | None = 12,
    max_findings: int | None = 20,
) -> Axes:
    """Draw the model as three layers: risk factors and context, causes, findings.

    The causes drawn are the ``max_causes`` ranked highest given ``evidence`` (:func:`numbdx.infer`'s
    ranking; with no evidence, given the chief complaint alone), shaded by P(present and producing the
    numbness | evidence), red flags with a red edge. On the left, the risk factors they depend on and
    the context and risk factors in the evidence; on the right, the chief complaint, every finding in
    the evidence and, up to ``max_findings``, the findings the drawn causes produce most often. Edge
    widths are the link probabilities (for the numbness: the probability that the cause numbs a leg).
    Evidence nodes are amber, labelled with their value, and their edges orange.

    Parameters
    ----------
    model : Model
        The model to draw.
    evidence : mapping, optional
        As for :func:`numbdx.infer`.
    ax : matplotlib.axes.Axes, optional
        The axes to draw on; a new figure sized to the layers by default.
    max_causes : int or None
        Causes drawn (positive); None for all.
    max_findings : int or None
        Findings drawn (non-negative); the chief complaint and the evidence findings are drawn
        whatever this says. None for every finding of the drawn causes.

    Returns
    -------
    matplotlib.axes.Axes
        The axes, with the axis lines off. Each node is a text artist whose ``gid`` is
        ``"evidence:<name>"`` for an evidence node and ``"node:<name>"`` otherwise (names are
        evidence names, and cause names for causes; the ids survive in SVG output).

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "numbdx[plot]"``).
    EvidenceError
        The evidence is invalid (as for :func:`numbdx.infer`).
    ValueError
        ``max_causes`` or ``max_findings`` out of range.
    """
    for label, limit, least in (("max_causes", max_causes, 1), ("max_findings", max_findings, 0)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < least):
            raise ValueError(f"{label} must be None or an integer >= {least}, got {limit!r}")
    matplotlib = _matplotlib()
    from matplotlib.collections import LineCollection

    from ._api import _differential
    from ._model import CHIEF_COMPLAINT

    # Triage is not needed for a drawing: the bare differential is the ranking alone.
    d = _differential(model, evidence)
    given = d.evidence
    ranked = [model.cause_index[c.name] for c in d.causes]
    drawn = ranked if max_causes is None else ranked[:max_causes]
    explains = {model.cause_index[c.name]: (c.explains if given.get(CHIEF_COMPLAINT, True) else c.posterior) for c in d}

    # causes, in rank order
    causes = {ci: _Node(model.causes[ci].name, model.causes[ci].label, 1, order=rank) for rank, ci in enumerate(drawn)}
    _spread(list(causes.values()))
    cause_y = {ci: node.y for ci, node in causes.items()}

    # risk factors and context: the parents of drawn causes (context only when given), and the evidence
    rf_labels = {rf.name: rf.label for rf in model.knowledge.risk_factors} | {"age": "Age", "sex": "Sex"}
    upper_children: dict[int, dict[int, float]] = {}
    for ci in drawn:
        for ui in model.causes[ci].parents:
            upper_children.setdefault(ui, {})[ci] = 1.0
    upper = {}
    for ui, var in enumerate(model.upper):
        in_evidence = var.name in given
        if not in_evidence and (ui not in upper_children or var.name in ("age", "sex")):
            continue
        upper[ui] = _Node(var.name, rf_labels.get(var.name, var.name), 0, in_evidence, given.get(var.name))
        upper[ui].order = _barycentre(upper_children.get(ui, {}), {c: -y for c, y in cause_y.items()}, 2.0)

    # findings: the chief complaint, the evidence, then the most strongly linked to the drawn causes
    def strength(fi: int, ci: int) -> float:
        f = model.findings[fi]
        return float(model.activation[ci]) if fi == model.side_index else float(f.pattern_probs[ci, 1:].sum())

    numbness = {ci: float(model.activation[ci]) for ci in drawn if model.activation[ci] > 0}
    chief = _Node(CHIEF_COMPLAINT, "Numbness of the legs or feet", 2, True, given.get(CHIEF_COMPLAINT, True))
    chief.order = -1.0  # always on top
    findings: dict[int, _Node] = {}
    links: dict[int, dict[int, float]] = {}
    for fi, f in enumerate(model.findings):
        weights = {ci: strength(fi, ci) for ci in drawn if strength(fi, ci) > 0}
        if f.name in given or weights:
            links[fi] = weights
    evidence_findings = [fi for fi in links if model.findings[fi].name in given]
    others = sorted(
        (fi for fi in links if model.findings[fi].name not in given),
        key=lambda fi: (-max(links[fi].values()), model.findings[fi].name),
    )
    room = len(others) if max_findings is None else max(0, max_findings - len(evidence_findings))
    for fi in evidence_findings + others[:room]:
        f = model.findings[fi]
        node = _Node(f.name, f.label, 2, f.name in given, given.get(f.name))
        node.order = _barycentre(links[fi], {c: -y for c, y in cause_y.items()}, 2.0)
        findings[fi] = node

    left = sorted(upper.values(), key=lambda node: (node.order, node.key))
    right = [chief, *sorted(findings.values(), key=lambda node: (node.order, node.key))]
    _spread(left)
    _spread(right)

    rows = max(len(left), len(causes), len(right), 1)
    if ax is None:
        ax = _new_axes(13.0, max(4.0, 0.3 * rows + 1.2))

    # edges first, under the node boxes
    segments, colours, widths = [], [], []

    def edge(x0: float, y0: float, x1: float, y1: float, p: float, highlighted: bool) -> None:
        segments.append([(x0, y0), (x1, y1)])
        colours.append(EVIDENCE_EDGE if highlighted else "#9e9e9e")
        widths.append(0.4 + 2.6 * p)

    for ui, node in upper.items():
        for ci in upper_children.get(ui, {}):
            edge(0.0, node.y, 1.0, causes[ci].y, 0.3, node.evidence)
    for ci, p in numbness.items():
        edge(1.0, causes[ci].y, 2.0, chief.y, p, True)
    for fi, node in findings.items():
        for ci, p in links[fi].items():
            edge(1.0, causes[ci].y, 2.0, node.y, p, node.evidence)
    alphas = [0.8 if c == EVIDENCE_EDGE else 0.45 for c in colours]
    rgba = [matplotlib.colors.to_rgba(c, a) for c, a in zip(colours, alphas)]
    ax.add_collection(LineCollection(segments, colors=rgba, linewidths=widths, zorder=1))

    # nodes
    blues = matplotlib.colormaps["Blues"]
    top = max(explains[ci] for ci in drawn) if drawn else 1.0

    def node_text(node: _Node, x: float, ha: str, face: str, edge_colour: str, text_colour: str = "#111") -> None:
        label = node.label if node.layer == 1 else _short(node.label)  # a cause's label is composed below
        if node.evidence:
            label += f": {value_text(node.value)}"
        ax.text(
            x,
            node.y,
            label,
            ha=ha,
            va="center",
            fontsize=8,
            color=text_colour,
            fontweight="bold" if node.evidence else "normal",
            zorder=3,
            gid=f"{'evidence' if node.evidence else 'node'}:{node.key}",
            bbox={
                "boxstyle": "round,pad=0.3",
                "facecolor": face,
                "edgecolor": edge_colour,
                "linewidth": 1.5 if node.evidence else 0.8,
            },
        )

    for node in left:
        face = EVIDENCE_FACE if node.evidence else "white"
        node_text(node, 0.0, "right", face, EVIDENCE_EDGE if node.evidence else "#9e9e9e")
    for ci, node in causes.items():
        share = explains[ci] / top if top > 0 else 0.0
        face = blues(0.12 + 0.78 * share)
        text_colour = "white" if share > 0.6 else "#111"
        cause = model.causes[ci]
        node.label = f"{_short(cause.label, 30)}  {_percent(explains[ci])}"
        node_text(node, 1.0, "center", face, RED if cause.red_flag else "#5b7fa6", text_colour)
    for node in right:
        face = EVIDENCE_FACE if node.evidence else "white"
        node_text(node, 2.0, "left", face, EVIDENCE_EDGE if node.evidence else "#9e9e9e")

    header = {"fontsize": 9, "fontweight": "bold", "va": "bottom"}
    ax.text(0.0, 1.01, "risk factors, context", ha="right", **header)
    ax.text(1.0, 1.01, "causes (shade: explains the numbness; red edge: red flag)", ha="center", **header)
    ax.text(2.0, 1.01, "findings (amber: evidence)", ha="left", **header)
    ax.set_xlim(-1.05, 3.05)
    ax.set_ylim(-0.01, 1.05)
    ax.set_axis_off()
    title = "numbdx model" + (" given the evidence" if evidence else "")
    ax.set_title(
        f"{title}: {len(causes)} of {len(model.causes)} causes, {len(left)} risk factors, {len(right)} findings",
        loc="left",
        fontsize=10,
    )
    return ax
