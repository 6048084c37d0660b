"""HTML views for notebooks: the differential, the model and an interview session.

The HTML is self-contained: inline CSS only, no JavaScript, no external resources, so it renders the
same in Jupyter, VS Code, nbviewer, an exported page or a mail, and survives the notebook "trust" rules
that strip scripts. Every piece of text (labels, evidence values, the sources' words) goes through
:func:`html.escape`: evidence often comes from users or services, and a label in a custom knowledge base
is text like any other.

What the differential view shows, and where the next questions and tests come from
    :func:`differential_html` renders what it is given: the differential (triage banner, ranked table
    with prior and posterior side by side, red flags, specialists), and when passed, the next questions
    (:func:`numbdx.next_questions`), the recommended tests (:func:`numbdx.recommend_tests`) and an
    explanation (:func:`numbdx.explain`) inside each cause's collapsed ``<details>``.

    ``Differential._repr_html_`` passes none of them: a repr runs no inference. A differential does not
    hold its model (it may come from :meth:`~numbdx.Differential.from_dict` in another process, or from
    a custom knowledge base), and the value of information grows exponentially with the positive
    findings (measured on 2 cores: about 70 ms with none, 1.2 s with 6, 49 s with 10, 7 minutes with
    12), far beyond what a repr may take. The view ends with the calls that compute them instead.
    :func:`session_html` does compute the next questions: a session holds its model and is where an
    interviewer wants the next question, and it does so only while the evidence has at most
    :data:`SESSION_AUTO_POSITIVES` positive findings (measured under 0.5 s), saying so past that.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._display import value_text

if TYPE_CHECKING:
    from ._model import Model
    from ._result import CauseResult, Differential
    from ._session import Session

__all__ = [
    "SESSION_AUTO_POSITIVES",
    "HtmlText",
    "differential_html",
    "model_html",
    "session_html",
]

# A session view computes the next questions itself only up to this many positive findings: the
# value of information takes 0.05-0.45 s up to 4 and 0.3-1.8 s at 5 (2 cores, measured), and doubles
# with each one after.
SESSION_AUTO_POSITIVES = 4
# Rows of the ranked table before "... more causes"; red flags are listed whatever their rank.
DEFAULT_ROWS = 10
SHOWN_QUESTIONS = 5
SHOWN_TESTS = 5
SHOWN_WEIGHTS = 8  # evidence weights per cause in an explanation
SHOWN_SPECIALISTS = 3

HINT = (
    "Next questions: numbdx.next_questions(d.evidence); tests: numbdx.recommend_tests(d.evidence); "
    "why each cause ranks where it does: numbdx.explain(d.evidence); a chart: d.plot()."
)
SOURCE_MEANING = {
    "legs": 'the article "Numbness of the legs - cause, diagnosis, treatment"',
    "heels": 'the article "Why do the heels on my feet go numb and how to treat numbness?"',
    "epidemiology": "published epidemiology (the paper named in each number's citation)",
    "assumption": "a labelled modelling assumption: the articles are silent (each has a note saying why)",
    "structural": "a logical 0 or 1 (a male cannot be pregnant)",
}

# The triage banner: an edge and a light background per level; the text colour is set too, so the
# banner stays readable under a dark notebook theme.
_LEVEL_COLOURS = {
    "emergency": ("#b71c1c", "#fdecea"),
    "urgent": ("#e65100", "#fff3e0"),
    "routine": ("#0d47a1", "#e3f2fd"),
    "self_care": ("#1b5e20", "#e8f5e9"),
}
_EXPLAINS_COLOUR = "#1f77b4"
_PRESENT_COLOUR = "#9ecae1"
_PRIOR_COLOUR = "#9e9e9e"
_RED = "#c62828"
_BOX = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.35;max-width:62em"
_CELL = "padding:2px 6px;text-align:left;vertical-align:top;"
_NUM = "padding:2px 6px;text-align:right;vertical-align:top;white-space:nowrap;font-variant-numeric:tabular-nums;"


class HtmlText(str):
    """A string of HTML that a notebook displays rendered (it has ``_repr_html_``).

    Still a ``str`` in every other respect: write it to a file, embed it in a page, compare it.
    """

    __slots__ = ()

    def _repr_html_(self) -> str:
        return str(self)


# --- small pieces ---------------------------------------------------------------------------------


def _e(value: object) -> str:
    """Escaped text of anything (quotes too: the text may land in an attribute)."""
    return html.escape(str(value), quote=True)


def _percent(p: float, *, exact: bool = False) -> str:
    """A probability as text: ``"<0.1%"`` below 0.1% (a red flag at 0.003% is not "0.0%"), or with
    ``exact`` in scientific notation there."""
    p = float(p)
    if math.isnan(p):
        return "n/a"
    if p == 0:
        return "0%"
    if abs(p) < 0.001:
        return f"{p:.1e}" if exact else "<0.1%"
    return f"{p:.1%}"


def _clamp(p: float) -> float:
    p = float(p)
    return 0.0 if math.isnan(p) else min(1.0, max(0.0, p))


def _bar(p: float, colour: str, title: str) -> str:
    """An inline CSS bar of ``p`` (0 to 1) followed by the number."""
    width = _clamp(p) * 100
    return (
        f'<span title="{_e(title)}" style="display:inline-block;width:5em;height:0.75em;'
        'background:rgba(128,128,128,0.18);vertical-align:middle;margin-right:4px">'
        f'<span style="display:block;width:{width:.2f}%;height:100%;background:{colour}"></span></span>'
        f'<span style="display:inline-block;min-width:3.3em;text-align:right">{_e(_percent(p))}</span>'
    )


def _evidence_line(evidence: Mapping[str, Any], assumed: Sequence[str]) -> str:
    items = [
        f"<code>{_e(k)}</code>={_e(value_text(v))}{' <i>(assumed)</i>' if k in assumed else ''}"
        for k, v in evidence.items()
    ]
    return f'<p style="margin:4px 0"><b>Evidence</b>: {", ".join(items) if items else "none"}</p>'


def _source_text(source: str | None, section: str | None, quote: str | None) -> str:
    """Where a rule or a number comes from: the source, its section and the quoted words."""
    if not source:
        return ""
    parts = [_e(source if source not in ("legs", "heels") else f"{source} article")]
    if section:
        parts.append(f"&ldquo;{_e(section)}&rdquo;")
    text = ", ".join(parts)
    if quote:
        text += f": <q>{_e(quote)}</q>"
    return f' <small style="opacity:0.8">[{text}]</small>'


# --- the differential -----------------------------------------------------------------------------


def _triage_banner(triage: Any) -> str:
    if triage is None:
        return ""
    edge, background = _LEVEL_COLOURS.get(str(triage.level), ("#424242", "#f5f5f5"))
    reasons = "".join(f"<li>{_e(r.text)}{_source_text(r.source, r.section, r.quote)}</li>" for r in triage.reasons)
    findings = ""
    if triage.red_flag_findings:
        findings = (
            '<p style="margin:4px 0"><b>Red-flag findings present</b>: '
            + ", ".join(f"<code>{_e(f)}</code>" for f in triage.red_flag_findings)
            + "</p>"
        )
    level = str(triage.level).replace("_", "-").upper()
    return (
        f'<div role="alert" style="border-left:6px solid {edge};background:{background};color:#111;'
        f'padding:6px 10px;margin:4px 0 8px 0">'
        f'<div><b style="color:{edge}">Triage: {_e(level)}</b> &mdash; {_e(triage.advice)}</div>'
        f'{findings}<ul style="margin:4px 0 0 0;padding-left:1.3em">{reasons}</ul></div>'
    )


def _explanation_for(explanation: Any, name: str) -> Any:
    if explanation is None:
        return None
    for c in explanation:
        if c.cause == name:
            return c
    return None


def _details(c: CauseResult, explained: Any, quantity: str) -> str:
    """The collapsed body of a cause's row: what moved it, and the evidence weights when given."""
    lr = c.likelihood_ratio
    if math.isnan(lr):
        moved = "the prior is 0"
    elif math.isinf(lr):
        moved = "the evidence makes it certain"
    else:
        direction = "more" if lr > 1 else "less" if lr < 1 else "neither more nor less"
        moved = f"likelihood ratio {lr:.3g}: the findings make it {direction} likely"
    lines = [
        f"<code>{_e(c.name)}</code>, group {_e(c.group.replace('_', ' '))}"
        + (f', <b style="color:{_RED}">red flag</b>' if c.red_flag else ""),
        f"prior {_e(_percent(c.prior, exact=True))} &rarr; present {_e(_percent(c.posterior, exact=True))} "
        f"({_e(moved)}); explains the numbness {_e(_percent(c.explains, exact=True))}",
    ]
    if explained is not None:
        weights = list(explained.weights)
        rows = "".join(
            f'<tr><td style="{_CELL}"><code>{_e(w.item)}</code>={_e(value_text(w.value))}'
            f"{' <i>(assumed)</i>' if w.assumed else ''}</td>"
            f'<td style="{_NUM}">{_e(_signed(w.log_odds_change))}</td>'
            f'<td style="{_CELL}">{_e(w.direction)}</td></tr>'
            for w in weights[:SHOWN_WEIGHTS]
        )
        hidden = len(weights) - SHOWN_WEIGHTS
        more = f"<br><small>... {hidden} more items</small>" if hidden > 0 else ""
        lines.append(
            f"Why (change in the log-odds of <i>{_e(quantity)}</i> when the item is removed):"
            f'<div style="margin:2px 0"><table><thead><tr><th style="{_CELL}">item</th><th style="{_NUM}">weight</th>'
            f'<th style="{_CELL}">direction</th></tr></thead><tbody>{rows}</tbody></table></div>{more}'
        )
    return "<br>".join(lines)


def _signed(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "+inf" if x > 0 else "-inf"
    return f"{x:+.2f}"


_TITLES = {
    "explains": "P(present and producing the numbness | evidence)",
    "prior": "P(present | context and risk factors only)",
    "posterior": "P(present | evidence)",
}


def _cause_row(rank: int, c: CauseResult, explained: Any, quantity: str) -> str:
    flag = f'<b style="color:{_RED}" title="red flag">&#9888; red flag</b>' if c.red_flag else ""
    edge = f"border-left:3px solid {_RED};" if c.red_flag else ""
    return (
        f'<tr data-cause="{_e(c.name)}">'
        f'<td style="{_NUM}{edge}">{rank}</td>'
        f'<td style="{_CELL}min-width:14em"><details><summary>{_e(c.label)}</summary>'
        f'<div style="font-size:12px;padding:2px 0 4px 1em">{_details(c, explained, quantity)}</div></details></td>'
        f'<td style="{_NUM}">{_bar(c.explains, _EXPLAINS_COLOUR, _TITLES["explains"])}</td>'
        f'<td style="{_NUM}">{_bar(c.prior, _PRIOR_COLOUR, _TITLES["prior"])}</td>'
        f'<td style="{_NUM}">{_bar(c.posterior, _PRESENT_COLOUR, _TITLES["posterior"])}</td>'
        f'<td style="{_CELL}white-space:nowrap">{flag}</td></tr>'
    )


def _causes_table(d: Differential, n: int, explanation: Any) -> str:
    quantity = getattr(explanation, "quantity", "explains") if explanation is not None else "explains"
    shown = list(d.causes[:n])
    # Red flags are never hidden (the triage rests on them): those ranked below n get their own section.
    flags = [(i, c) for i, c in enumerate(d.causes, 1) if i > n and c.red_flag]
    head = (
        f'<thead><tr><th style="{_NUM}">#</th><th style="{_CELL}">cause</th>'
        f'<th style="{_NUM}">explains the numbness</th><th style="{_NUM}">prior</th>'
        f'<th style="{_NUM}">present</th><th style="{_CELL}"></th></tr></thead>'
    )
    body = "".join(_cause_row(i, c, _explanation_for(explanation, c.name), quantity) for i, c in enumerate(shown, 1))
    flag_body = ""
    if flags:
        flag_body = (
            f'<tbody><tr><th colspan="6" style="{_CELL}color:{_RED}">Red flags, listed whatever their '
            "probability</th></tr>"
            + "".join(_cause_row(i, c, _explanation_for(explanation, c.name), quantity) for i, c in flags)
            + "</tbody>"
        )
    hidden = len(d.causes) - len(shown) - len(flags)
    more = (
        f'<tr><td colspan="6" style="{_CELL}"><small>... {hidden} more causes (all of them: '
        "<code>d.to_frame()</code>)</small></td></tr>"
        if hidden > 0
        else ""
    )
    caption = (
        f'<caption style="text-align:left;caption-side:top;padding:2px 0"><b>Differential</b>: {len(d.causes)} '
        "causes ranked by P(cause present <i>and producing the leg numbness</i> | evidence); several can "
        "be at work at once, so the columns do not sum to one. Click a cause for details.</caption>"
    )
    return (
        f'<div class="numbdx-differential" style="margin:4px 0"><table>{caption}{head}'
        f"<tbody>{body}{more}</tbody>{flag_body}</table></div>"
    )


def _questions_section(questions: Any) -> str:
    if questions is None:
        return ""
    items = list(getattr(questions, "questions", questions))[:SHOWN_QUESTIONS]
    units = getattr(questions, "units", "bits")
    rows = "".join(
        f'<tr><td style="{_NUM}">{i}</td><td style="{_CELL}">{_e(q.label)} <code>{_e(q.name)}</code></td>'
        f'<td style="{_NUM}">{float(q.value):.3f}</td><td style="{_CELL}">'
        + _e(", ".join(f"{value_text(a.label)} {_percent(a.probability)}" for a in q.answers if a.probability > 0))
        + "</td></tr>"
        for i, q in enumerate(items, 1)
    )
    stop = ""
    if hasattr(questions, "should_stop"):
        verdict = "enough asked" if questions.should_stop else "keep asking"
        stop = f'<p style="margin:2px 0"><small><b>{verdict}</b>: {_e(questions.stop_reason)}</small></p>'
    if not items:
        return f'<p style="margin:4px 0"><b>Next questions</b>: none left to ask.</p>{stop}'
    return (
        '<div class="numbdx-questions" style="margin:6px 0"><table>'
        '<caption style="text-align:left;caption-side:top"><b>Next questions</b>, by value of information</caption>'
        f'<thead><tr><th style="{_NUM}">#</th><th style="{_CELL}">question</th>'
        f'<th style="{_NUM}">value ({_e(units)})</th><th style="{_CELL}">answers expected</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>{stop}"
    )


def _tests_section(tests: Iterable[Any] | None) -> str:
    if tests is None:
        return ""
    items = list(tests)[:SHOWN_TESTS]
    if not items:
        return '<p style="margin:4px 0"><b>Tests</b>: none left to recommend.</p>'
    rows = "".join(
        f'<tr><td style="{_NUM}">{i}</td><td style="{_CELL}">{_e(t.label)}'
        + _source_text(t.citation.get("source"), t.citation.get("section"), t.citation.get("quote"))
        + f'</td><td style="{_CELL}">{_e(t.tier.replace("_", " "))}</td>'
        f'<td style="{_NUM}">{_e(_percent(t.p_abnormal))}</td><td style="{_NUM}">{float(t.value):.3f}</td>'
        f'<td style="{_NUM}">{float(t.score):.3f}</td></tr>'
        for i, t in enumerate(items, 1)
    )
    return (
        '<div class="numbdx-tests" style="margin:6px 0"><table>'
        '<caption style="text-align:left;caption-side:top"><b>Tests</b>, by value of information against '
        "cost</caption>"
        f'<thead><tr><th style="{_NUM}">#</th><th style="{_CELL}">test</th><th style="{_CELL}">cost tier</th>'
        f'<th style="{_NUM}">P(abnormal)</th><th style="{_NUM}">value</th><th style="{_NUM}">score</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
    )


def differential_html(
    d: Differential,
    *,
    tests: Iterable[Any] | None = None,
    questions: Any = None,
    explanation: Any = None,
    n: int = DEFAULT_ROWS,
    hint: str | None = None,
) -> HtmlText:
    """The differential as self-contained HTML: triage banner, ranked table, red flags and extras.

    Parameters
    ----------
    d : Differential
        The differential to show.
    tests : sequence of TestRecommendation, optional
        From :func:`numbdx.recommend_tests` on the same evidence; the first five are shown.
    questions : NextQuestions or sequence of QuestionValue, optional
        From :func:`numbdx.next_questions` on the same evidence; the first five are shown, with the
        stopping rule's verdict.
    explanation : Explanation, optional
        From :func:`numbdx.explain` on the same evidence: each explained cause's evidence weights go
        in its collapsed ``<details>``.
    n : int
        Causes shown in rank order; red-flag causes ranked below are listed after them whatever
        their probability.
    hint : str, optional
        The closing line saying how to get what is not shown; by default the calls for the next
        questions, tests and explanation when any of them is missing. ``""`` for none.

    Returns
    -------
    HtmlText
        A ``str`` that a notebook displays rendered. Inline CSS only, no script, every text escaped.

    Notes
    -----
    ``Differential._repr_html_`` calls this without ``tests``, ``questions`` or ``explanation``: a repr
    runs no inference (see the module docstring), so the view ends with the calls that give them.
    """
    from ._result import DISCLAIMER

    n = max(0, int(n))
    parts = [f'<div class="numbdx" style="{_BOX}">', _triage_banner(d.triage)]
    parts.append(_causes_table(d, n, explanation))
    if d.specialists:
        parts.append(
            '<p style="margin:4px 0"><b>Specialists</b>: '
            + ", ".join(f"{_e(s.label)} {_e(_percent(s.share))}" for s in d.specialists[:SHOWN_SPECIALISTS])
            + "</p>"
        )
    parts.append(_evidence_line(d.evidence, d.assumed))
    parts.append(_questions_section(questions))
    parts.append(_tests_section(tests))
    if d.method == "exact":
        how = f"exact (rounding error at most {d.error_bound:.1e})"
    else:
        how = f"{d.method} (every probability within \u00b1{d.error_bound:.3f})"
    identity = d.model_identity
    model = f"numbdx {identity.get('package_version', '?')}, priors {str(identity.get('priors_sha256', '?'))[:12]}"
    if hint is None:
        hint = "" if questions is not None and tests is not None and explanation is not None else HINT
    parts.append(
        f'<p style="margin:4px 0;opacity:0.85"><small>Method: {_e(how)}. Model: {_e(model)}.'
        f"{'<br>' + _e(hint) if hint else ''}<br><i>{_e(DISCLAIMER)}</i></small></p></div>"
    )
    return HtmlText("".join(parts))


# --- the model ------------------------------------------------------------------------------------


def model_html(model: Model) -> HtmlText:
    """A summary of a model: its size, its identity and where its numbers come from.

    Parameters
    ----------
    model : Model
        The model to describe.

    Returns
    -------
    HtmlText
        Self-contained HTML (inline CSS, no script, every text escaped).
    """
    kb = model.knowledge
    n_links = sum(len(f.parents) for f in model.findings)  # the numbness itself included (its side links)
    groups = Counter(c.group for c in model.causes)
    red_flags = [c for c in model.causes if c.red_flag]
    size = [
        ("causes", f"{len(model.causes)} in {len(groups)} groups, {len(red_flags)} of them red flags"),
        ("risk factors", f"{len(model.upper) - 2}, with the context (age band, sex)"),
        ("findings", f"{len(model.findings) + 1}, the chief complaint (leg numbness) included"),
        ("links", f"{n_links} cause &rarr; finding links, the numbness itself included"),
    ]
    size_rows = "".join(f'<tr><th style="{_CELL}">{k}</th><td style="{_CELL}">{v}</td></tr>' for k, v in size)
    identity = model.identity
    identity_rows = (
        f'<tr><th style="{_CELL}">package version</th><td style="{_CELL}">'
        f"{_e(identity.get('package_version', '?'))}</td></tr>"
        f'<tr><th style="{_CELL}">priors SHA-256</th><td style="{_CELL}"><code>'
        f"{_e(identity.get('priors_sha256', '?'))}</code></td></tr>"
        f'<tr><th style="{_CELL}">knowledge base</th><td style="{_CELL}"><code>{_e(kb.directory)}</code></td></tr>'
    )
    sources = Counter(number.source for number in kb.numbers())
    total = sum(sources.values()) or 1
    source_rows = "".join(
        f'<tr><td style="{_CELL}"><code>{_e(source)}</code></td><td style="{_NUM}">{count}</td>'
        f'<td style="{_NUM}">{_bar(count / total, _EXPLAINS_COLOUR, "share of the numbers")}</td>'
        f'<td style="{_CELL}">{_e(SOURCE_MEANING.get(source, source))}</td></tr>'
        for source, count in sources.most_common()
    )
    by_group = "".join(
        f"<li><b>{_e(group.replace('_', ' '))}</b>: "
        + ", ".join(
            _e(c.label) + (f' <span style="color:{_RED}">&#9888;</span>' if c.red_flag else "")
            for c in model.causes
            if c.group == group
        )
        + "</li>"
        for group in groups
    )
    return HtmlText(
        f'<div class="numbdx-model" style="{_BOX}"><p style="margin:4px 0"><b>numbdx model</b></p>'
        f'<div style="margin:4px 0"><table><tbody>{size_rows}{identity_rows}</tbody></table></div>'
        '<div style="margin:4px 0"><table><caption style="text-align:left;caption-side:top">'
        f"<b>Where the {total} numbers come from</b></caption>"
        f'<thead><tr><th style="{_CELL}">source</th><th style="{_NUM}">numbers</th><th style="{_NUM}">share</th>'
        f'<th style="{_CELL}">meaning</th></tr></thead><tbody>{source_rows}</tbody></table></div>'
        f'<details><summary>Causes by group (&#9888; red flag)</summary><ul style="margin:2px 0">{by_group}'
        "</ul></details>"
        '<p style="margin:4px 0;opacity:0.85"><small>Draw it: <code>model.draw(evidence)</code>; '
        "every evidence name: <code>numbdx.vocabulary()</code>.</small></p></div>"
    )


# --- a session ------------------------------------------------------------------------------------


def _labels(model: Model) -> dict[str, str]:
    """Evidence name -> plain-language label."""
    from ._model import CHIEF_COMPLAINT

    labels = {"age": "Age", "sex": "Sex", CHIEF_COMPLAINT: "Numbness of the legs or feet"}
    labels.update({rf.name: rf.label for rf in model.knowledge.risk_factors})
    labels.update({f.name: f.label for f in model.findings})
    return labels


def positive_findings(model: Model, evidence: Mapping[str, Any]) -> int:
    """How many positive findings the engine sees in ``evidence`` (a side counts as one).

    Exact inference, and the value of information more so, grows exponentially with this number.
    """
    from ._engine import SIDE_CODES, codes_from_evidence
    from ._evidence import normalise

    codes = codes_from_evidence(model, [normalise(model, evidence)])
    side = SIDE_CODES[int(codes.side[0])]
    lateral = 0 not in side and len(side) == 1  # left, right or both given
    return int((codes.findings[0] >= 1).sum()) + int(lateral)


def session_html(session: Session, *, questions: Any = None, n: int = 5) -> HtmlText:
    """An interview so far: the answers, the triage and top causes, and the next questions.

    Parameters
    ----------
    session : Session
        The session to show.
    questions : NextQuestions, optional
        The next questions, if already computed. Otherwise they are computed here
        (``session.next_questions(3)``) while the evidence has at most :data:`SESSION_AUTO_POSITIVES`
        positive findings; past that (or if computing them fails) the view says how to ask for them.
    n : int
        Causes shown in rank order (red flags are listed whatever their rank).

    Returns
    -------
    HtmlText
        Self-contained HTML (inline CSS, no script, every text escaped).
    """
    from ._model import CHIEF_COMPLAINT

    model = session.model
    labels = _labels(model)
    history = session.history
    answers = "".join(
        f'<tr><td style="{_NUM}">{i}</td><td style="{_CELL}">{_e(labels.get(k, k))} <code>{_e(k)}</code></td>'
        f'<td style="{_CELL}">{_e(value_text(v))}</td></tr>'
        for i, (k, v) in enumerate(history, 1)
    )
    assumed = "" if CHIEF_COMPLAINT in session.evidence else f" (<code>{CHIEF_COMPLAINT}</code>=yes assumed)"
    note = ""
    if questions is None:
        try:
            positives = positive_findings(model, session.evidence)
            if positives <= SESSION_AUTO_POSITIVES:
                questions = session.next_questions(3)
            else:
                note = (
                    f"{positives} positive findings: the next questions are not computed for the display "
                    "(it would take long); call <code>session.next_questions()</code>."
                )
        except Exception as exc:  # the display must show the rest whatever the value of information does
            note = f"Next questions unavailable here ({_e(type(exc).__name__)}: {_e(exc)})."
    ask = ""
    if questions is not None and len(list(getattr(questions, "questions", questions))):
        best = next(iter(getattr(questions, "questions", questions)))
        ask = (
            '<p style="margin:4px 0;font-size:14px"><b>Ask next</b>: '
            f"{_e(best.label)} <code>{_e(best.name)}</code> &mdash; "
            f"<code>session.answer({_e(repr(best.name))}, ...)</code></p>"
        )
    parts = [
        f'<div class="numbdx-session" style="{_BOX}">',
        f'<p style="margin:4px 0"><b>numbdx session</b>: {len(history)} answer{"s" if len(history) != 1 else ""}'
        f"{assumed}</p>",
    ]
    if history:
        parts.append(
            "<details open><summary>Answers so far</summary><table>"
            f'<thead><tr><th style="{_NUM}">#</th><th style="{_CELL}">question</th><th style="{_CELL}">answer</th>'
            f"</tr></thead><tbody>{answers}</tbody></table></details>"
        )
    parts.append(ask)
    if note:
        parts.append(f'<p style="margin:4px 0"><small>{note}</small></p>')
    hint = "More: session.recommend_tests(), numbdx.explain(session.evidence), session.differential.plot()."
    parts.append(differential_html(session.differential, questions=questions, n=n, hint=hint))
    parts.append("</div>")
    return HtmlText("".join(parts))
