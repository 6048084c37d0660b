"""The notebook HTML views: escaped, never raising, and showing the triage, the red flags and the rest."""

from __future__ import annotations

import html
import math
import re
import time
from collections import Counter
from html.parser import HTMLParser

import pytest

import numbdx
from numbdx import _html
from numbdx._explain import CauseExplanation, EvidenceWeight, Explanation
from numbdx._html import SESSION_AUTO_POSITIVES, HtmlText, differential_html, model_html, session_html
from numbdx._result import CauseResult, Differential
from numbdx._session import Session
from numbdx._triage import SpecialistAdvice, Triage, TriageReason
from numbdx._voi import AnswerOutcome, NextQuestions, QuestionValue, TestRecommendation, next_questions

MODEL = numbdx.load_model()
HOSTILE = "<script>alert('x')</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
STROKE = {
    "age": 68,
    "sex": "male",
    "smoking": True,
    "numbness_side": "right",
    "numbness_onset": "sudden",
    "speech_disturbance": True,
    "facial_distortion": True,
}
HEEL = {"age": 31, "sex": "female", "pregnancy": True, "numb_heel": True, "numbness_side": "left", "swelling": True}
# Everything the views may emit: anything else (script, img, iframe, link, style ...) is a leak.
ALLOWED_TAGS = {
    "div", "p", "b", "i", "q", "small", "code", "br", "ul", "li", "span", "table", "caption", "thead",
    "tbody", "tr", "th", "td", "details", "summary",
}  # fmt: skip


class _Tags(HTMLParser):
    """Every start tag and attribute name of a fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes.update(name for name, _ in attrs)


def _tags(fragment: str) -> _Tags:
    parser = _Tags()
    parser.feed(fragment)
    parser.close()
    return parser


def _assert_inert(fragment: str) -> None:
    """No markup but ours: no script, no event handler, no external resource."""
    parsed = _tags(fragment)
    assert set(parsed.tags) <= ALLOWED_TAGS, set(parsed.tags) - ALLOWED_TAGS
    assert not any(a.startswith("on") for a in parsed.attributes), parsed.attributes
    assert not re.search(r"<\s*(script|img|iframe|link|style)\b", fragment, re.IGNORECASE)
    assert "http://" not in fragment and "https://" not in fragment


def _hostile_differential() -> Differential:
    causes = [
        CauseResult(HOSTILE, HOSTILE, ATTRIBUTE, 0.6, 0.7, 0.2, False),
        CauseResult("flag" + ATTRIBUTE, ATTRIBUTE, "vascular", 1e-6, 2e-6, 1e-6, True),
        CauseResult("nan_cause", "<b>NaN</b>", "other", math.nan, math.nan, 0.0, False),
    ]
    reason = TriageReason("emergency", "red_flag_finding", HOSTILE, HOSTILE, HOSTILE, HOSTILE, note=HOSTILE)
    triage = Triage(level="emergency", reasons=(reason,), red_flag_findings=(HOSTILE,), advice=HOSTILE)
    specialist = SpecialistAdvice(HOSTILE, HOSTILE, 1.0, (), HOSTILE, HOSTILE, HOSTILE, HOSTILE)
    return Differential(
        causes,
        evidence={HOSTILE: HOSTILE, "age": ATTRIBUTE},
        assumed=(HOSTILE,),
        model_identity={"package_version": HOSTILE, "priors_sha256": ATTRIBUTE},
        method=HOSTILE,
        error_bound=0.01,
        triage=triage,
        specialists=(specialist,),
    )


def _hostile_extras() -> dict[str, object]:
    answer = AnswerOutcome(HOSTILE, HOSTILE, 0.5, 1.0, 0.1, HOSTILE)
    question = QuestionValue(HOSTILE, HOSTILE, "finding", HOSTILE, 0.5, 0.0, (answer,))
    questions = NextQuestions(
        questions=(question,),
        criterion="entropy",
        units=HOSTILE,
        uncertainty=1.0,
        should_stop=False,
        stop_reason=HOSTILE,
        top=(HOSTILE,),
        considered=1,
        skipped=(),
        stop_rule={},
        evidence={},
        model_identity={},
    )
    test = TestRecommendation(
        HOSTILE, HOSTILE, HOSTILE, 2, 0.3, 0.0, 0.1, 0.2, {"source": HOSTILE, "section": HOSTILE, "quote": HOSTILE}
    )
    weight = EvidenceWeight(HOSTILE, HOSTILE, 1.5, 0.2, "for", 0.4)
    explanation = Explanation((CauseExplanation(HOSTILE, HOSTILE, 0.6, (weight,)),), "explains", HOSTILE)
    return {"tests": [test], "questions": questions, "explanation": explanation}


# --- escaping -------------------------------------------------------------------------------------


def test_hostile_text_is_escaped_everywhere() -> None:
    d = _hostile_differential()
    for fragment in (d._repr_html_(), differential_html(d, **_hostile_extras())):
        assert "<pre>" not in fragment  # the real view, not the fallback
        _assert_inert(fragment)
        assert html.escape(HOSTILE) in fragment
        assert "&lt;b&gt;NaN&lt;/b&gt;" in fragment
    full = differential_html(d, **_hostile_extras())
    # the extras are there, escaped: the question, the test and the explanation's weight
    assert full.count(html.escape(HOSTILE)) > d._repr_html_().count(html.escape(HOSTILE))
    assert 'class="numbdx-questions"' in full and 'class="numbdx-tests"' in full
    assert "+1.50" in full


def test_session_and_model_escape_what_they_show(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Session(evidence={"age": 40, "sex": "female", "numb_heel": True})
    monkeypatch.setattr(_html, "_labels", lambda model: {"numb_heel": HOSTILE})
    fragment = session_html(s)
    _assert_inert(fragment)
    assert html.escape(HOSTILE) in fragment
    _assert_inert(model_html(MODEL))


# --- never raises ---------------------------------------------------------------------------------


def test_repr_html_falls_back_to_the_plain_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    d = numbdx.infer(HEEL)

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(_html, "differential_html", broken)
    fragment = d._repr_html_()
    assert fragment.startswith("<pre>") and html.escape(repr(d)) in fragment

    monkeypatch.setattr(Differential, "__repr__", broken)
    fragment = d._repr_html_()
    assert fragment.startswith("<pre>&lt;numbdx._result.Differential object at ")


def test_repr_html_of_a_malformed_differential_does_not_raise() -> None:
    d = numbdx.infer(HEEL)
    d.triage = object()  # type: ignore[assignment]  # breaks the view and the plain repr alike
    fragment = d._repr_html_()
    assert fragment.startswith("<pre>&lt;numbdx._result.Differential object at ")


def test_model_repr_html_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(model: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(_html, "model_html", broken)
    assert MODEL._repr_html_() == f"<pre>{html.escape(repr(MODEL))}</pre>"


def test_repr_html_adds_questions_tests_and_explanations_only_when_cheap() -> None:
    """Light evidence: the view carries the next questions, tests and explanations (each checked against
    the functions that compute them); heavy evidence: none, and it says how to ask for them."""
    light = numbdx.infer({"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True})
    fragment = light._repr_html_()
    first_question = numbdx.next_questions(light.evidence).questions[0]
    first_test = numbdx.recommend_tests(light.evidence)[0]
    assert html.escape(first_question.label) in fragment and html.escape(first_test.label) in fragment
    assert "numbdx.next_questions(d.evidence)" not in fragment
    heavy_evidence = {"age": 50, **dict.fromkeys(["tingling", "burning", "numb_toes", "back_pain", "weakness"], True)}
    heavy = numbdx.infer(heavy_evidence)
    best = min(_timed(heavy._repr_html_) for _ in range(3))
    assert best < 0.1  # no inference for it: the stored differential only
    assert "numbdx.next_questions(d.evidence)" in heavy._repr_html_()  # says how to get what it leaves out


def _row(fragment: str, name: str) -> str:
    """The markup of a cause's row, up to the next cause's (its cells hold tables of their own)."""
    rows = fragment.split('<tr data-cause="')[1:]
    return next(r for r in rows if r.startswith(f'{name}"'))


def _timed(f: object) -> float:
    start = time.perf_counter()
    f()  # type: ignore[operator]
    return time.perf_counter() - start


# --- content --------------------------------------------------------------------------------------


def test_triage_banner_and_red_flags() -> None:
    d = numbdx.infer(STROKE)
    fragment = differential_html(d, n=3)
    _assert_inert(fragment)
    assert d.triage is not None and d.triage.level == "emergency"
    assert "Triage: EMERGENCY" in fragment
    assert html.escape(d.triage.advice) in fragment
    for reason in d.triage.reasons:
        assert html.escape(reason.text) in fragment
        if reason.section:
            assert html.escape(reason.section) in fragment
    for finding in d.triage.red_flag_findings:
        assert f"<code>{finding}</code>" in fragment
    # every red flag is a row, whatever its rank; the other causes stop at n
    rows = re.findall(r'<tr data-cause="([^"]+)"', fragment)
    assert rows[:3] == [c.name for c in d.causes[:3]]
    assert set(rows) == {c.name for c in d.causes[:3]} | {c.name for c in d.red_flags}
    assert "Red flags, listed whatever their probability" in fragment
    for c in d.red_flags:
        assert html.escape(c.label) in fragment


def test_table_shows_prior_and_posterior_bars() -> None:
    d = numbdx.infer(HEEL)
    fragment = d._repr_html_()
    top = d.causes[0]
    row = _row(fragment, top.name)
    assert f"{top.explains:.1%}" in row and f"{top.prior:.1%}" in row and f"{top.posterior:.1%}" in row
    assert f"width:{top.prior * 100:.2f}%" in row and f"width:{top.posterior * 100:.2f}%" in row
    assert "<details><summary>" in row


def test_extras_and_explanation_in_details() -> None:
    d = numbdx.infer(HEEL)
    questions = next_questions(HEEL, 3)
    why = numbdx.explain(HEEL, causes=d.causes[0].name)
    fragment = differential_html(d, questions=questions, explanation=why, tests=[])
    assert html.escape(questions[0].label) in fragment
    assert "Tests</b>: none left to recommend" in fragment
    top_row = _row(fragment, d.causes[0].name)
    weights = why[d.causes[0].name].weights
    assert f"<code>{weights[0].item}</code>" in top_row and "Why (change in the log-odds" in top_row


def test_html_text_displays_itself() -> None:
    fragment = differential_html(numbdx.infer(HEEL))
    assert isinstance(fragment, HtmlText) and isinstance(fragment, str)
    assert fragment._repr_html_() == str(fragment)


def test_model_html() -> None:
    fragment = MODEL._repr_html_()
    _assert_inert(fragment)
    assert 'class="numbdx-model"' in fragment
    assert MODEL.identity["priors_sha256"] in fragment
    assert f'<td style="{_html._CELL}">{len(MODEL.causes)} in ' in fragment
    for source, count in Counter(n.source for n in MODEL.knowledge.numbers()).items():
        assert re.search(rf"<code>{source}</code></td><td[^>]*>{count}</td>", fragment), source


def test_session_html_shows_answers_triage_and_next_question() -> None:
    s = Session(evidence={"age": 62, "sex": "male"}).answer("numb_toes", True)
    fragment = session_html(s)
    _assert_inert(fragment)
    assert "numbdx session</b>: 3 answers" in fragment
    assert "Numbness of the toes" in fragment  # the answer, by its label
    best = s.next_questions(1)[0]
    assert re.search(rf"Ask next</b>: .*<code>{best.name}</code>", fragment)
    assert "Triage: ROUTINE" in fragment and 'class="numbdx"' in fragment


def test_session_html_skips_costly_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Session(evidence={"numb_toes": True, "tingling": True})

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("next questions computed past the budget")

    monkeypatch.setattr(_html, "SESSION_AUTO_POSITIVES", 1)
    monkeypatch.setattr(Session, "next_questions", refuse)
    fragment = session_html(s)
    assert "not computed for the display" in fragment and "Ask next" not in fragment
    assert SESSION_AUTO_POSITIVES >= 2  # the shipped budget does cover this session


def test_session_html_survives_failing_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Session(evidence={"numb_toes": True})

    def fail(*args: object, **kwargs: object) -> None:
        raise numbdx.InferenceLimitError(HOSTILE)

    monkeypatch.setattr(Session, "next_questions", fail)
    fragment = session_html(s)
    _assert_inert(fragment)
    assert "Next questions unavailable here (InferenceLimitError" in fragment
    assert 'class="numbdx"' in fragment  # the rest is shown
