"""Value of information: which question, examination or test would tell the most about the causes.

Uncertainty
    The causes of leg numbness are not mutually exclusive (several can be present and produce the
    numbness at once), so there is no single categorical "diagnosis" variable whose entropy to reduce.
    The uncertainty is instead a sum over the causes of a concave loss of each cause's marginal,
    ``U(e) = sum_c L(P(c explains | e))``, where ``P(c explains | e)`` is what the differential ranks
    by: P(cause present *and producing the numbness* | e) (P(cause present | e) when the evidence says
    there is no leg numbness, as in :class:`~numbdx.Differential`). Two losses (``criterion``):

    * ``"entropy"`` (default): the binary entropy in bits, ``L(p) = -p log2 p - (1-p) log2 (1-p)``;
    * ``"misclassification"``: ``L(p) = min(p, 1 - p)``, the probability of being wrong about the cause
      when calling it present iff ``p > 1/2``; ``U`` is then the expected number of causes misjudged.

Value of information
    ``VOI(X) = U(e) - sum_x P(X=x | e) U(e + {X=x})`` over the states ``x`` of an unanswered variable
    ``X``: the expected reduction of ``U`` from learning ``X``. Each marginal ``P(c explains | e)`` is a
    martingale (its expectation over the answer is its current value), and ``L`` is concave, so by
    Jensen's inequality the expected loss after the answer never exceeds the current one: ``VOI >= 0``
    for every variable and both criteria. Evidence already given has exactly one possible answer, so its
    value is zero. Computed values can fall below zero by rounding; a value within its rounding bound
    (``QuestionValue.error_bound``: the engine's bounds on the posteriors carried through ``L``, by the
    smaller of ``|H(p) - H(q)| <= H(|p - q|)`` and the slope of ``H`` times ``|p - q|``) is reported
    as ``0``; anything below is left as it is, to show. The bound is conservative (the engine's bounds
    are): typically 1e-9 to 1e-5 bits where the actual error is nearer 1e-13.

Which variables
    Findings (binary, categorical, and the side of the numbness), risk factors, ``sex`` and ``age``.
    Age is offered by band (the model only sees the band): its answers are the bands, each with the
    band's lower bound in years as the value to give. The chief complaint ``leg_numbness`` is never
    asked: it is the reason for the consultation (assumed present unless given). When the evidence says
    there is no leg numbness, the features that describe it (gated findings and the side) have nothing
    left to tell and are not offered.

How it is computed (exactly)
    Every answer of every variable is a row of evidence, and all rows go to the exact engine
    (:func:`~numbdx._engine.infer_codes`) in one batched call, after the evidence alone (which fails
    fast if it is impossible, and whose number of terms, what each row costs, must not exceed
    :data:`MAX_TERMS`). Rows that share an elimination plan (the engine groups rows by the context
    they observe and their number of terms) are scored together, vectorised; the rows are chosen so
    that few plans are needed, all exactly. Below :data:`SELECTED_FROM_TERMS` terms per row, risk
    factors enter the engine as indicators, so a risk-factor answer shares the others' elimination;
    from it, where arithmetic outweighs the number of eliminations, they are selected (smaller
    tables), and each risk-factor answer has an elimination of its own:

    * a binary or categorical finding is scored through its negative answer, which has the shape of
      the base evidence (one elimination for all of them); its positive answer is the base minus the
      negative: ``P(e, X=1) = P(e) - P(e, X=0)``, likewise the joint of each cause. The subtraction
      loses relative precision as the positive answer gets unlikely, but not in the VOI: with ``c``
      the bound on the absolute error of the subtraction (relative to ``P(e)``), the answer's share of
      the VOI's error is ``P(answer) * causes * H(c / P(answer)) <= causes * H(c)`` (``x H(c/x)`` grows
      with ``x``), of the order of the base evidence's own share. The posteriors after an unlikely
      answer (which the answer's ``shift`` and ``leader`` and the stopping rule read) are scored by
      the engine directly when their bound exceeds :data:`ANSWER_ERROR`; a variable with an answer
      that neither way can give within that bound is left out (``skipped``). The side of the
      numbness: "both" is the base minus "left" and "right", with the same guard; when the model numbs
      the left leg as often as the right for every cause (the shipped one does) and nothing else in
      the evidence is lateral, "left" and "right" are the same row.
    * a risk factor is scored through its "present" answer (the rarer one, usually); "absent" is the
      base minus "present", with the same guard.
    * unobserved context (age, sex) is scored in a *block*: each row observes both (every combination
      of their states, at most :data:`MAX_BLOCK_ROWS` rows), so the block is one elimination where age
      and sex apart would be two, and a variable's answer is the sum of the block's rows, a sum of
      non-negative numbers (no cancellation).
    * answers the model rules out (pregnancy in a man) are rows of probability zero, skipped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

import numpy as np

from ._api import load_model
from ._display import fallback_html
from ._engine import Codes, codes_from_evidence, infer_codes
from ._evidence import Evidence, normalise
from ._exceptions import ImpossibleEvidenceError, InferenceLimitError
from ._model import CHIEF_COMPLAINT, Model
from ._priors import TEST_TIERS

__all__ = [
    "CRITERIA",
    "AnswerOutcome",
    "NextQuestions",
    "QuestionValue",
    "TestRecommendation",
    "next_questions",
    "recommend_tests",
    "value_of_information",
]

Criterion = Literal["entropy", "misclassification"]
CRITERIA: tuple[str, ...] = ("entropy", "misclassification")
UNITS = {"entropy": "bits", "misclassification": "expected causes misjudged"}

# A derived (subtracted) answer is scored by the engine directly when the bound on its posteriors
# exceeds ANSWER_ERROR (see the module docstring); an answer above it is never used.
ANSWER_ERROR = 1e-6
# The value of information scores about a hundred rows of evidence, each as costly as the evidence
# itself: refuse evidence whose exact answer needs more than MAX_TERMS terms (about 9 positive
# findings: a few seconds on one core, where 3 positives take 30-50 ms).
MAX_TERMS = 1024
# Rows per block of context combinations (age x sex: 10); each block is one elimination.
MAX_BLOCK_ROWS = 16
# The stopping rule's defaults (see next_questions).
STOP_TOP = 3
STOP_THRESHOLD = 0.05
DEFAULT_COST_WEIGHT = 1.0

_EPS = float(np.finfo(np.float64).eps)
_SIDE_VALUES = ("left", "right", "both")
_SIDE_CODES = (1, 2, 3)  # rows of numbdx._engine.SIDE_CODES: left, right, both
# infer_codes grew a method= argument (importance sampling past the exact limit); VOI needs exact
# answers (its subtractions and bounds assume them), so ask for them wherever the argument exists.
# exact inference; a float64 answer is accepted at a rounding bound of 1e-7 (each value carries its bound)
_EXACT: dict[str, Any] = {"method": "exact", "target_error": 1e-7}
# From this many terms per row, the answers are scored with the observed risk factors selected rather
# than entered as indicators: the arithmetic then dominates, and selected tables are smaller (six
# positives, 128 terms: 58 against 87 ms), though each risk-factor question then needs an elimination
# of its own. Below it, indicators let the risk-factor answers share the others' eliminations, which
# is faster (three positives, 16 terms: 22.6 against 25.1 ms).
SELECTED_FROM_TERMS = 64


# --- results --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy scalars become Python ones; NaN and infinities become ``None``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class AnswerOutcome:
    """One possible answer to a question and what it would do.

    Attributes
    ----------
    value
        The evidence value to give for this answer (``True``/``False``, a state name, or for ``age``
        the lower bound of the band in years).
    label
        The answer as text (for ``age``, the band).
    probability
        P(this answer | the evidence so far).
    uncertainty
        The uncertainty about the causes after this answer (``None`` when the answer is impossible).
    shift
        The largest change of any cause's probability (the ranking quantity) this answer would make
        (``None`` when impossible).
    leader
        The cause that would rank first after this answer (``None`` when impossible).
    """

    value: Any
    label: str
    probability: float
    uncertainty: float | None
    shift: float | None
    leader: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        return {
            "value": _plain(self.value),
            "label": self.label,
            "probability": _plain(self.probability),
            "uncertainty": _plain(self.uncertainty),
            "shift": _plain(self.shift),
            "leader": self.leader,
        }

    def __repr__(self) -> str:
        if self.uncertainty is None:
            return f"<answer {self.label}: impossible>"
        return f"<answer {self.label}: p={self.probability:.3f}, shift {self.shift:.3f}, leader {self.leader}>"


@dataclass(frozen=True)
class QuestionValue:
    """The value of asking one variable.

    Attributes
    ----------
    name, label
        The evidence name and its plain-language label.
    kind
        ``"context"`` (age, sex), ``"risk_factor"``, ``"finding"`` (a question or an examination) or
        ``"test"`` (a diagnostic test).
    group
        The finding's group (``"sign"``, ``"pain"``, ``"test"`` ...), or the kind for the others.
    value
        The value of information in the criterion's units (bits for ``"entropy"``); never negative
        beyond ``error_bound``; zero for evidence already given.
    error_bound
        Bound on the rounding error of ``value``.
    answers
        Every answer with its probability given the evidence and its effect.
    answered
        Whether the evidence already gives this variable (its value is then zero).
    """

    name: str
    label: str
    kind: str
    group: str
    value: float
    error_bound: float
    answers: tuple[AnswerOutcome, ...]
    answered: bool = False

    @property
    def max_shift(self) -> float:
        """The largest change of any cause's probability over the possible answers."""
        return max((a.shift for a in self.answers if a.shift is not None and a.probability > 0), default=0.0)

    def probabilities(self) -> dict[str, float]:
        """Answer label -> P(answer | evidence)."""
        return {a.label: a.probability for a in self.answers}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        return {
            "name": self.name,
            "label": self.label,
            "kind": self.kind,
            "group": self.group,
            "value": _plain(self.value),
            "error_bound": _plain(self.error_bound),
            "answered": self.answered,
            "max_shift": _plain(self.max_shift),
            "answers": [a.to_dict() for a in self.answers],
        }

    def __repr__(self) -> str:
        answers = ", ".join(f"{a.label} {a.probability:.1%}" for a in self.answers)
        return f"<QuestionValue {self.name}: {self.value:.4g} ({answers})>"


@dataclass(frozen=True)
class NextQuestions:
    """The unanswered questions worth asking next, best first, and whether to stop asking.

    Attributes
    ----------
    questions
        The ``n`` most valuable unanswered questions, highest value of information first.
    criterion, units
        The uncertainty measure (see :func:`next_questions`) and its units.
    uncertainty
        The uncertainty about the causes given the evidence so far.
    should_stop
        True when no answer to any remaining question (with probability above ``stop_rule``'s
        ``min_probability``) would change the top ``stop_rule['top']`` ranking, or move the probability
        of any of those causes by more than ``stop_rule['threshold']``.
    stop_reason
        Why (or why not): the most probable answer that would still change the picture.
    top
        The current top causes the rule watches, in rank order.
    considered
        How many unanswered questions were evaluated (all of them, not only the ``n`` shown).
    skipped
        Questions that could not be evaluated precisely enough (too much exact-inference work); the
        rule does not stop while any is left.
    stop_rule
        The rule's parameters: ``top``, ``threshold``, ``min_probability``.
    evidence
        The normalised evidence, assumptions included.
    model_identity
        ``package_version`` and ``priors_sha256`` of the model.
    """

    questions: tuple[QuestionValue, ...]
    criterion: str
    units: str
    uncertainty: float
    should_stop: bool
    stop_reason: str
    top: tuple[str, ...]
    considered: int
    skipped: tuple[str, ...]
    stop_rule: Mapping[str, Any]
    evidence: Mapping[str, Any]
    model_identity: Mapping[str, str]

    def __iter__(self) -> Iterator[QuestionValue]:
        return iter(self.questions)

    def __len__(self) -> int:
        return len(self.questions)

    def __getitem__(self, index: int) -> QuestionValue:
        return self.questions[index]

    def names(self) -> list[str]:
        """The questions' evidence names, best first."""
        return [q.name for q in self.questions]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        return {
            "format": "numbdx.next_questions/1",
            "questions": [q.to_dict() for q in self.questions],
            "criterion": self.criterion,
            "units": self.units,
            "uncertainty": _plain(self.uncertainty),
            "should_stop": self.should_stop,
            "stop_reason": self.stop_reason,
            "top": list(self.top),
            "considered": self.considered,
            "skipped": list(self.skipped),
            "stop_rule": {k: _plain(v) for k, v in self.stop_rule.items()},
            "evidence": {k: _plain(v) for k, v in self.evidence.items()},
            "model": dict(self.model_identity),
        }

    def __repr__(self) -> str:
        lines = [
            f"<numbdx.NextQuestions: {len(self.questions)} of {self.considered} unanswered questions, "
            f"criterion={self.criterion}, uncertainty {self.uncertainty:.4g} {self.units}>"
        ]
        for i, q in enumerate(self.questions, 1):
            answers = ", ".join(f"{a.label} {a.probability:.0%}" for a in q.answers if a.probability > 0)
            lines.append(f"  {i:>2}. {q.name:<28} value {q.value:8.4f}  ({answers})")
        lines.append(f"  should stop: {'yes' if self.should_stop else 'no'} ({self.stop_reason})")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        try:
            rows = "".join(
                f"<tr><td>{i}</td><td>{html.escape(q.label)}</td><td>{html.escape(q.name)}</td>"
                f"<td>{q.value:.4f}</td><td>"
                + html.escape(", ".join(f"{a.label} {a.probability:.0%}" for a in q.answers if a.probability > 0))
                + "</td></tr>"
                for i, q in enumerate(self.questions, 1)
            )
            return (
                "<div><table><thead><tr><th>#</th><th>question</th><th>name</th>"
                f"<th>value ({html.escape(self.units)})</th><th>answers</th></tr></thead><tbody>{rows}</tbody>"
                f"</table><p>should stop: {'yes' if self.should_stop else 'no'} "
                f"({html.escape(self.stop_reason)})</p></div>"
            )
        except Exception:  # a repr must never raise in a notebook
            return fallback_html(self)


@dataclass(frozen=True)
class TestRecommendation:
    """A diagnostic test named by the source articles, valued against its cost.

    Attributes
    ----------
    name, label
        The test's finding name (its abnormal result) and label.
    tier, tier_index
        The cost tier and its position in ``question < examination < lab < ultrasound < xray <
        ct_mri_emg < angiography`` (0 to 6).
    value
        The value of information of the result (criterion units).
    error_bound
        Bound on the rounding error of ``value``.
    score
        ``value / (1 + tier_index) ** cost_weight``: what the ranking uses.
    p_abnormal
        P(the result is abnormal | evidence).
    citation
        Where the articles name the test: ``source``, ``section``, ``quote``, ``note``.
    """

    __test__ = False  # not a pytest test class, despite the name

    name: str
    label: str
    tier: str
    tier_index: int
    value: float
    error_bound: float
    score: float
    p_abnormal: float
    citation: Mapping[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        return {
            "name": self.name,
            "label": self.label,
            "tier": self.tier,
            "tier_index": self.tier_index,
            "value": _plain(self.value),
            "error_bound": _plain(self.error_bound),
            "score": _plain(self.score),
            "p_abnormal": _plain(self.p_abnormal),
            "citation": dict(self.citation),
        }

    def __repr__(self) -> str:
        return (
            f"<TestRecommendation {self.name} ({self.tier}): score {self.score:.4g}, value {self.value:.4g}, "
            f"P(abnormal) {self.p_abnormal:.1%}>"
        )


# --- the variables that can be asked ----------------------------------------------------------------


@dataclass(frozen=True)
class _Variable:
    """An askable variable: its answers as evidence values, labels and engine codes."""

    name: str
    label: str
    kind: str
    group: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    upper: int = -1  # index into model.upper, or -1 for a finding
    finding: int = -1  # index into model.findings, or -1
    codes: tuple[int, ...] = ()  # per answer: upper state, finding pattern, or side code
    gated: bool = False  # describes the numbness (no answer without leg numbness)
    side: bool = False


def _variables(model: Model) -> dict[str, _Variable]:
    """Every askable variable of ``model`` (cached on the immutable model)."""
    cached = model.__dict__.get("_voi_variables")
    if cached is not None:
        return cached
    kb = model.knowledge
    rf_labels = {r.name: r.label for r in kb.risk_factors}
    out: dict[str, _Variable] = {}
    for i, var in enumerate(model.upper):
        if var.name == "age":
            years = tuple(int(b) if float(b).is_integer() else float(b) for b in kb.age_lower_bounds)
            out["age"] = _Variable(
                "age", "Age", "context", "context", years, var.states, i, codes=tuple(range(var.card))
            )
        elif var.name == "sex":
            out["sex"] = _Variable("sex", "Sex", "context", "context", var.states, var.states, i, codes=(0, 1))
        else:
            label = rf_labels.get(var.name, var.name)
            out[var.name] = _Variable(
                var.name, label, "risk_factor", "risk_factor", (True, False), ("True", "False"), i, codes=(1, 0)
            )
    for i, f in enumerate(model.findings):
        kind = "test" if f.group == "test" else "finding"
        if f.kind == "side":
            out[f.name] = _Variable(
                f.name, f.label, kind, f.group, _SIDE_VALUES, _SIDE_VALUES, finding=i, codes=_SIDE_CODES, side=True
            )
        elif f.kind == "binary":
            out[f.name] = _Variable(
                f.name, f.label, kind, f.group, (True, False), ("True", "False"), finding=i, codes=(1, 0), gated=f.gated
            )
        else:  # categorical: the engine sees pattern 1 for the first state (see _evidence.normalise)
            codes = tuple(1 if s == f.states[0] else 0 for s in f.states)
            out[f.name] = _Variable(
                f.name, f.label, kind, f.group, f.states, f.states, finding=i, codes=codes, gated=f.gated
            )
    model.__dict__["_voi_variables"] = out
    return out


# --- evaluation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcomes:
    """Every answer of every evaluated variable, flat: variable ``v`` owns rows ``start[v]:start[v+1]``.
    Posteriors after an impossible answer are NaN."""

    variables: tuple[_Variable, ...]
    start: np.ndarray  # (V + 1,)
    probability: np.ndarray  # (A,): P(answer | e)
    probability_error: np.ndarray  # (A,)
    explains: np.ndarray  # (A, C)
    posterior: np.ndarray  # (A, C)
    error: np.ndarray  # (A,): bound on the absolute error of the posteriors

    def owner(self) -> np.ndarray:
        """(A,): the variable of each answer."""
        return np.repeat(np.arange(len(self.variables)), np.diff(self.start))


@dataclass(frozen=True)
class _Base:
    explains: np.ndarray  # (C,)
    posterior: np.ndarray  # (C,)
    error: float
    chief: bool

    @property
    def quantity(self) -> np.ndarray:
        """What the differential ranks by (see the module docstring)."""
        return self.explains if self.chief else self.posterior


class _Rows:
    """Rows of evidence codes: the base row and modifications of it."""

    def __init__(self, base: Codes) -> None:
        self.base = base
        self.upper: list[tuple[tuple[int, int], ...]] = []
        self.finding: list[tuple[int, int] | None] = []
        self.side: list[int | None] = []
        self.add()

    def add(
        self, upper: tuple[tuple[int, int], ...] = (), finding: tuple[int, int] | None = None, side: int | None = None
    ) -> int:
        self.upper.append(upper)
        self.finding.append(finding)
        self.side.append(side)
        return len(self.side) - 1

    def __len__(self) -> int:
        return len(self.side)

    def codes(self, start: int = 0) -> Codes:
        n = len(self.side) - start
        upper = np.repeat(self.base.upper, n, axis=0)
        findings = np.repeat(self.base.findings, n, axis=0)
        side = np.repeat(self.base.side, n)
        for k in range(n):
            r = start + k
            for i, s in self.upper[r]:
                upper[k, i] = s
            if self.finding[r] is not None:
                i, p = self.finding[r]
                findings[k, i] = p
            if self.side[r] is not None:
                side[k] = self.side[r]
        return Codes(upper, findings, side)


@dataclass
class _Scored:
    """Engine answers per row: P(e_r), (posterior, explains), bounds; failed rows marked."""

    p: np.ndarray  # (R,)
    q: np.ndarray  # (R, 2C) posterior then explains
    beta: np.ndarray  # (R,) bound on the absolute error of q
    rho: np.ndarray  # (R,) bound on the relative error of p
    ok: np.ndarray  # (R,) bool: usable (impossible rows are usable, with p = 0)
    failures: list[Exception | None]
    terms: np.ndarray  # (R,) exact-inference terms of each row

    @classmethod
    def score(cls, model: Model, codes: Codes, shared: bool = True) -> _Scored:
        answer = infer_codes(model, codes, with_prior=False, **_EXACT, shared_plans=shared)
        q = np.concatenate([answer.posterior, answer.explains], axis=1)
        p = np.asarray(answer.evidence_probability, dtype=np.float64).copy()
        beta = np.asarray(answer.error_bound, dtype=np.float64).copy()
        impossible = np.array([isinstance(f, ImpossibleEvidenceError) for f in answer.failure], dtype=bool)
        ok = np.array([f is None for f in answer.failure], dtype=bool) | impossible
        p[~ok | impossible] = 0.0
        q[~ok | impossible] = 0.0
        beta[~ok | impossible] = 0.0
        # The engine bounds each posterior's error by eps*ops*(|terms_j| + ratio_j*|terms_0|)/P(e), so
        # the relative error of P(e) itself, eps*ops*|terms_0|/P(e), is at most bound / max_j ratio_j.
        rho = np.minimum(beta / np.maximum(q.max(axis=1, initial=0.0), 1e-300), 1.0)
        return cls(p, q, beta, rho, ok, list(answer.failure), np.asarray(answer.terms))

    def extend(self, other: _Scored) -> None:
        self.p = np.concatenate([self.p, other.p])
        self.q = np.concatenate([self.q, other.q])
        self.beta = np.concatenate([self.beta, other.beta])
        self.rho = np.concatenate([self.rho, other.rho])
        self.ok = np.concatenate([self.ok, other.ok])
        self.failures.extend(other.failures)
        self.terms = np.concatenate([self.terms, other.terms])


Recipe = tuple[tuple[int, float], ...]  # an answer as a signed sum of rows: ((row, coefficient), ...)


def _combine(scored: _Scored, recipes: Sequence[Recipe]) -> tuple[np.ndarray, ...]:
    """Per recipe: ``P(e, answer)``, its (posterior, explains) row, the bound on their error, the bound
    on the error of ``P``, and whether every row it needs was scored."""
    n_rows = len(scored.p)
    matrix = np.zeros((len(recipes), n_rows))
    for a, recipe in enumerate(recipes):
        for r, c in recipe:
            matrix[a, r] += c
    used = matrix != 0
    ok = ~(used & ~scored.ok).any(axis=1)
    p = matrix @ scored.p
    joint = matrix @ (scored.q * scored.p[:, None])
    weight = np.abs(matrix) * scored.p
    rounding = _EPS * used.sum(axis=1) * weight.sum(axis=1)  # of the sum itself
    p_error = weight @ scored.rho + rounding
    joint_error = weight @ (scored.beta + scored.rho) + rounding
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(joint / p[:, None], 0.0, 1.0)
        error = np.where(p > p_error, (joint_error + p_error) / p, math.inf)  # inf: cannot be told from 0
    # one row taken as it is: the engine's own bound
    single = (used.sum(axis=1) == 1) & (matrix.sum(axis=1) == 1)
    rows = used.argmax(axis=1)
    q[single] = scored.q[rows[single]]
    error[single] = scored.beta[rows[single]]
    p_error[single] = (scored.rho * scored.p)[rows[single]]
    # a sum of impossible rows is exactly impossible
    nothing = ~single & ~(matrix < 0).any(axis=1) & (p == 0)
    q[nothing], error[nothing], p_error[nothing] = 0.0, 0.0, 0.0
    error[~ok] = math.inf
    return p, q, error, p_error, ok


def _blocks(variables: Sequence[_Variable]) -> list[list[_Variable]]:
    """Context variables packed into blocks of at most MAX_BLOCK_ROWS combinations of their states."""
    blocks: list[list[_Variable]] = []
    sizes: list[int] = []
    for var in sorted(variables, key=lambda v: (-len(v.values), v.upper)):
        for b, size in enumerate(sizes):
            if size * len(var.values) <= MAX_BLOCK_ROWS:
                blocks[b].append(var)
                sizes[b] *= len(var.values)
                break
        else:
            blocks.append([var])
            sizes.append(len(var.values))
    return blocks


def _lateral_symmetry(model: Model) -> bool:
    """Whether every cause, and the leak, numbs the left leg as often as the right one. No other
    evidence is lateral, so P(e, left) = P(e, right) exactly, with the same posteriors: one row serves
    both (one elimination fewer)."""
    side = model.findings[model.side_index]
    probs = side.pattern_probs
    return bool(np.array_equal(probs[:, 1], probs[:, 2]) and side.leak_probs[1] == side.leak_probs[2])


def _recipes(model: Model, rows: _Rows, variables: Sequence[_Variable]) -> list[list[Recipe]]:
    """Rows to score and, per variable and answer, how its answer is made of them."""
    recipes: dict[str, list[Recipe]] = {}
    upper_vars = []
    for var in variables:
        if var.kind == "context":  # age and sex: blocks
            upper_vars.append(var)
        elif var.upper >= 0:  # a risk factor: "present" scored; absent = base - present
            present = rows.add(upper=((var.upper, 1),))
            recipes[var.name] = [((present, 1.0),) if c == 1 else ((0, 1.0), (present, -1.0)) for c in var.codes]
        elif var.side:  # left and right scored; both = base - left - right
            left = rows.add(side=var.codes[0])
            right = left if _lateral_symmetry(model) else rows.add(side=var.codes[1])
            recipes[var.name] = [((left, 1.0),), ((right, 1.0),), ((0, 1.0), (left, -1.0), (right, -1.0))]
        else:  # the negative scored (the base's shape); the positive = base - negative
            negative = rows.add(finding=(var.finding, 0))
            recipes[var.name] = [((negative, 1.0),) if c == 0 else ((0, 1.0), (negative, -1.0)) for c in var.codes]
    for block in _blocks(upper_vars):
        parts: dict[str, list[list[tuple[int, float]]]] = {var.name: [[] for _ in var.values] for var in block}
        for combination in product(*(range(len(var.values)) for var in block)):
            r = rows.add(upper=tuple((var.upper, var.codes[k]) for var, k in zip(block, combination)))
            for var, k in zip(block, combination):
                parts[var.name][k].append((r, 1.0))
        for var in block:
            recipes[var.name] = [tuple(answer) for answer in parts[var.name]]
    return [recipes[var.name] for var in variables]


def _direct(rows: _Rows, var: _Variable, k: int) -> int:
    """A row for answer ``k`` of ``var`` alone."""
    if var.upper >= 0:
        return rows.add(upper=((var.upper, var.codes[k]),))
    if var.side:
        return rows.add(side=var.codes[k])
    return rows.add(finding=(var.finding, var.codes[k]))


def _evaluate(model: Model, ev: Evidence, variables: Sequence[_Variable]) -> tuple[_Base, _Outcomes, list[str]]:
    """Score every answer of ``variables`` given ``ev`` (see the module docstring)."""
    n_causes = len(model.causes)
    rows = _Rows(codes_from_evidence(model, [ev]))
    # The evidence alone first (what numbdx.infer computes): it fails fast on impossible evidence, and
    # its number of terms tells what every answer's row will cost.
    scored = _Scored.score(model, rows.codes())
    if not scored.ok[0] or scored.p[0] <= 0:
        failure = scored.failures[0]
        if isinstance(failure, InferenceLimitError):
            raise InferenceLimitError(f"{failure} (the value of information needs exact answers)") from None
        raise failure or ImpossibleEvidenceError("the model gives this evidence probability zero")
    if scored.terms[0] > MAX_TERMS:
        raise InferenceLimitError(
            f"this evidence needs {scored.terms[0]} exact-inference terms per answer (more than {MAX_TERMS} "
            "for the value of information, which scores every answer to every question); give fewer "
            "positive findings (numbdx.infer still answers the differential)"
        )
    per_variable = _recipes(model, rows, variables)
    recipes = [recipe for answers in per_variable for recipe in answers]
    owner = np.repeat(np.arange(len(variables)), [len(answers) for answers in per_variable])
    answer_index = np.concatenate([np.arange(len(answers)) for answers in per_variable] or [np.zeros(0, int)])
    shared = scored.terms[0] < SELECTED_FROM_TERMS
    if len(rows) > 1:
        scored.extend(_Scored.score(model, rows.codes(1), shared))
    p, q, error, p_error, ok = _combine(scored, recipes)

    # Second pass: answers that could not be derived within ANSWER_ERROR, scored directly.
    retry = np.flatnonzero(~ok | (error > ANSWER_ERROR))
    if len(retry):
        start = len(rows)
        direct = [_direct(rows, variables[owner[a]], int(answer_index[a])) for a in retry]
        scored.extend(_Scored.score(model, rows.codes(start), shared))
        dp, dq, derror, dp_error, dok = _combine(scored, [((r, 1.0),) for r in direct])
        better = dok & ((derror <= error[retry]) | ~ok[retry])
        take = retry[better]
        p[take], q[take], error[take], p_error[take], ok[take] = (
            dp[better],
            dq[better],
            derror[better],
            dp_error[better],
            True,
        )
    bad = ~ok | (error > ANSWER_ERROR)
    skipped_mask = np.zeros(len(variables), dtype=bool)
    skipped_mask[owner[bad]] = True
    keep = ~skipped_mask[owner]

    base_p = float(scored.p[0])
    probability = p[keep] / base_p
    probability_error = p_error[keep] / base_p + probability * scored.rho[0]
    q = q[keep]
    q[probability <= 0] = np.nan
    kept = [v for v, skip in zip(variables, skipped_mask) if not skip]
    sizes = [len(v.values) for v in kept]
    outcomes = _Outcomes(
        variables=tuple(kept),
        start=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        probability=np.clip(probability, 0.0, 1.0),
        probability_error=probability_error,
        explains=q[:, n_causes:],
        posterior=q[:, :n_causes],
        error=error[keep],
    )
    chief = bool(ev.values.get(CHIEF_COMPLAINT, True))
    base = _Base(scored.q[0, n_causes:], scored.q[0, :n_causes], float(scored.beta[0]), chief)
    return base, outcomes, [v.name for v, skip in zip(variables, skipped_mask) if skip]


# --- uncertainty ------------------------------------------------------------------------------------


def _loss(q: np.ndarray, criterion: str) -> np.ndarray:
    """Per-cause loss of the marginals ``q`` (any shape)."""
    q = np.clip(q, 0.0, 1.0)
    if criterion == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -(q * np.log2(q) + (1 - q) * np.log2(1 - q))
        return np.where((q > 0) & (q < 1), h, 0.0)
    return np.minimum(q, 1 - q)


def _loss_bound(q: np.ndarray, delta: np.ndarray | float, criterion: str) -> np.ndarray:
    """Bound on ``sum_c |L(q_c) - L(x_c)|`` over ``|x_c - q_c| <= delta`` (per row of ``q``).

    Misclassification: ``delta`` per cause. Entropy: per cause the smaller of ``H(delta)`` (continuity
    of the binary entropy: ``|H(p) - H(x)| <= H(|p - x|)``) and ``delta`` times the steepest slope
    ``|log2((1 - x) / x)|`` on the interval (which is much smaller away from 0 and 1).
    """
    q = np.clip(np.nan_to_num(np.asarray(q, dtype=np.float64)), 0.0, 1.0)
    d = np.minimum(np.asarray(delta, dtype=np.float64), 0.5)
    d = d[..., None] if d.ndim else d
    if criterion != "entropy":
        return np.broadcast_to(d, q.shape).sum(axis=-1)
    lo, hi = np.clip(q - d, 0.0, 1.0), np.clip(q + d, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.maximum(np.abs(np.log2((1 - lo) / lo)), np.abs(np.log2((1 - hi) / hi)))
        slope = np.where((lo > 0) & (hi < 1), slope, np.inf)
        linear = np.where(d > 0, d * slope, 0.0)  # not 0 * inf
    return np.minimum(_loss(np.broadcast_to(d, q.shape), criterion), linear).sum(axis=-1)


def _check_criterion(criterion: str) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")


def _ranked(quantity: np.ndarray, posterior: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Cause indices in the differential's order (highest quantity, then posterior, then name) per row."""
    return np.lexsort((np.broadcast_to(names, quantity.shape), -posterior, -quantity), axis=-1)


def _values(model: Model, base: _Base, outcomes: _Outcomes, criterion: str) -> list[QuestionValue]:
    """VOI of each evaluated variable, with its answers (vectorised over every answer)."""
    n_causes = len(model.causes)
    names = model.cause_names
    name_rank = np.argsort(np.argsort(np.array(names)))
    base_q = base.quantity
    u0 = float(_loss(base_q, criterion).sum())
    base_error = float(_loss_bound(base_q, base.error, criterion))
    top_loss = 1.0 if criterion == "entropy" else 0.5
    p = outcomes.probability
    possible = p > 0
    q = np.nan_to_num(outcomes.explains if base.chief else outcomes.posterior)
    u = _loss(q, criterion).sum(axis=1)
    shift = np.abs(q - base_q).max(axis=1, initial=0.0)
    leader = _ranked(q, np.nan_to_num(outcomes.posterior), name_rank)[:, 0]
    owner = outcomes.owner()
    n_vars = len(outcomes.variables)
    expected = np.bincount(owner, weights=np.where(possible, p * u, 0.0), minlength=n_vars)
    raw = u0 - expected
    bound = (
        base_error
        + np.bincount(
            owner,
            weights=np.where(possible, p * _loss_bound(q, outcomes.error, criterion), 0.0),
            minlength=n_vars,
        )
        + np.bincount(owner, weights=outcomes.probability_error, minlength=n_vars) * n_causes * top_loss
    )
    value = np.where((raw < 0) & (raw >= -bound), 0.0, raw)  # rounding only; a real negative stays visible
    out = []
    for v, var in enumerate(outcomes.variables):
        answers = tuple(
            AnswerOutcome(
                value=var.values[k],
                label=var.labels[k],
                probability=float(p[a]),
                uncertainty=float(u[a]) if possible[a] else None,
                shift=float(shift[a]) if possible[a] else None,
                leader=names[leader[a]] if possible[a] else None,
            )
            for k, a in enumerate(range(outcomes.start[v], outcomes.start[v + 1]))
        )
        out.append(QuestionValue(var.name, var.label, var.kind, var.group, float(value[v]), float(bound[v]), answers))
    return out


def _answered(model: Model, var: _Variable, given: Any) -> QuestionValue:
    """An already answered (or implied) variable: one possible answer, value zero."""
    answers = []
    for value, label in zip(var.values, var.labels):
        if var.name == "age" and given is not None:
            bounds = model.knowledge.age_lower_bounds
            band = max(i for i, low in enumerate(bounds) if float(given) >= low)
            hit = label == var.labels[band]
            value = given if hit else value
        else:
            hit = given is not None and value == given and type(value) is type(given)
        answers.append(AnswerOutcome(value, label, 1.0 if hit else 0.0, None, 0.0 if hit else None, None))
    return QuestionValue(var.name, var.label, var.kind, var.group, 0.0, 0.0, tuple(answers), answered=True)


def _prepare(
    evidence: Mapping[str, Any] | None, model: Model | None, criterion: str
) -> tuple[Model, Evidence, dict[str, _Variable]]:
    _check_criterion(criterion)
    model = model if model is not None else load_model()
    ev = normalise(model, {} if evidence is None else evidence)
    return model, ev, _variables(model)


def _askable(ev: Evidence, var: _Variable) -> bool:
    """Unanswered, and not implied by the absence of leg numbness."""
    if var.name in ev.values:
        return False
    return ev.values.get(CHIEF_COMPLAINT, True) or not (var.gated or var.side)


# --- public functions -------------------------------------------------------------------------------


def value_of_information(
    evidence: Mapping[str, Any] | None = None,
    names: Iterable[str] | None = None,
    *,
    model: Model | None = None,
    criterion: Criterion = "entropy",
) -> dict[str, QuestionValue]:
    """The value of information of each of ``names`` given ``evidence`` (see the module docstring).

    Parameters
    ----------
    evidence
        As for :func:`numbdx.infer`.
    names
        Evidence names to value; by default every variable that can still be answered (findings,
        diagnostic tests, risk factors, context). A name the evidence already gives (including the
        assumed ``leg_numbness``) has value zero and one possible answer; so have the features of the
        numbness when the evidence says there is none (binary ones are implied False; categorical ones
        and the side have no possible answer).
    model
        The model; the shipped one by default.
    criterion
        ``"entropy"`` (bits) or ``"misclassification"`` (expected number of causes misjudged).

    Returns
    -------
    dict
        Name -> :class:`QuestionValue`, in the order of ``names``. A variable that cannot be evaluated
        precisely enough (too many positive findings for exact inference) is left out.

    Raises
    ------
    UnknownEvidenceError, InvalidEvidenceValueError, ImpossibleEvidenceError
        As :func:`numbdx.infer`, for the evidence or an unknown name.
    InferenceLimitError
        The evidence itself needs more exact-inference work than numbdx will do.
    ValueError
        Unknown ``criterion``.
    """
    model, ev, variables = _prepare(evidence, model, criterion)
    if names is None:
        wanted = [name for name, var in variables.items() if _askable(ev, var)]
    else:
        wanted = list(dict.fromkeys(names))
        normalise(model, dict.fromkeys(wanted))  # unknown names raise, with suggestions
    to_score = [variables[n] for n in wanted if n in variables and _askable(ev, variables[n])]
    base, outcomes, _ = _evaluate(model, ev, to_score)
    scored = {q.name: q for q in _values(model, base, outcomes, criterion)}
    out: dict[str, QuestionValue] = {}
    chief_var = _Variable(
        CHIEF_COMPLAINT, "Leg numbness", "finding", "chief_complaint", (True, False), ("True", "False")
    )
    for name in wanted:
        if name in scored:
            out[name] = scored[name]
        elif name == CHIEF_COMPLAINT:
            out[name] = _answered(model, chief_var, ev.values[CHIEF_COMPLAINT])
        elif name in ev.values:
            out[name] = _answered(model, variables[name], ev.values[name])
        elif name in variables and not _askable(ev, variables[name]):  # a feature of absent numbness
            var = variables[name]
            out[name] = _answered(model, var, False if not var.side and var.values[0] is True else None)
    return out


def next_questions(
    evidence: Mapping[str, Any] | None = None,
    n: int = 5,
    *,
    model: Model | None = None,
    include_tests: bool = False,
    criterion: Criterion = "entropy",
    stop_top: int = STOP_TOP,
    stop_threshold: float = STOP_THRESHOLD,
    stop_min_probability: float = 0.0,
) -> NextQuestions:
    """The unanswered questions that would tell the most about the causes, best first.

    Every unanswered question is valued exactly (see the module docstring): findings asked or examined
    (the diagnostic tests too with ``include_tests``), risk factors, sex and age (by band). Stateless:
    the evidence is all it needs, so a service can call it on every request.

    Parameters
    ----------
    evidence
        As for :func:`numbdx.infer`.
    n
        How many questions to return (all are evaluated for the stopping rule).
    model
        The model; the shipped one by default.
    include_tests
        Also value the diagnostic tests (see :func:`recommend_tests` to weigh them by cost).
    criterion
        ``"entropy"`` (bits) or ``"misclassification"`` (expected number of causes misjudged).
    stop_top, stop_threshold, stop_min_probability
        The stopping rule: ``should_stop`` is True when no answer with probability above
        ``stop_min_probability`` to any evaluated question would change the ordered top ``stop_top``
        causes, or move the probability (the ranking quantity) of any of them by more than
        ``stop_threshold``. The default, 0, considers every possible answer however unlikely, so a
        remaining red-flag question (a sudden severe headache that would put stroke first) keeps the
        interview going.

    Returns
    -------
    NextQuestions

    Raises
    ------
    UnknownEvidenceError, InvalidEvidenceValueError, ImpossibleEvidenceError
        As :func:`numbdx.infer`.
    InferenceLimitError
        The evidence itself needs more exact-inference work than numbdx will do.
    ValueError
        ``n``, ``criterion`` or a stopping-rule parameter out of range.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(stop_top, bool) or not isinstance(stop_top, int) or stop_top < 1:
        raise ValueError(f"stop_top must be a positive integer, got {stop_top!r}")
    for label, x in (("stop_threshold", stop_threshold), ("stop_min_probability", stop_min_probability)):
        if isinstance(x, bool) or not isinstance(x, int | float) or not 0 <= x <= 1:
            raise ValueError(f"{label} must be a number between 0 and 1, got {x!r}")
    model, ev, variables = _prepare(evidence, model, criterion)
    candidates = [v for v in variables.values() if _askable(ev, v) and (include_tests or v.kind != "test")]
    base, outcomes, skipped = _evaluate(model, ev, candidates)
    values = _values(model, base, outcomes, criterion)
    ranked = sorted(values, key=lambda q: (-q.value, q.name))
    should_stop, reason, top = _stop_rule(
        model, base, outcomes, skipped, stop_top, stop_threshold, stop_min_probability
    )
    u0 = float(_loss(base.quantity, criterion).sum())
    return NextQuestions(
        questions=tuple(ranked[:n]),
        criterion=criterion,
        units=UNITS[criterion],
        uncertainty=u0,
        should_stop=should_stop,
        stop_reason=reason,
        top=top,
        considered=len(candidates),
        skipped=tuple(skipped),
        stop_rule={"top": stop_top, "threshold": float(stop_threshold), "min_probability": float(stop_min_probability)},
        evidence=dict(ev.values),
        model_identity=dict(model.identity),
    )


def _stop_rule(
    model: Model,
    base: _Base,
    outcomes: _Outcomes,
    skipped: Sequence[str],
    top: int,
    threshold: float,
    min_probability: float,
) -> tuple[bool, str, tuple[str, ...]]:
    """The stopping rule of :func:`next_questions`: ``(should_stop, reason, current top causes)``."""
    names = model.cause_names
    name_rank = np.argsort(np.argsort(np.array(names)))
    base_q = base.quantity
    current = _ranked(base_q, base.posterior, name_rank)[:top]
    top_names = tuple(names[c] for c in current)
    if skipped:
        return False, f"could not evaluate {', '.join(skipped)} precisely enough", top_names
    keep = np.flatnonzero((outcomes.probability > min_probability) & (outcomes.probability > 0))
    q = (outcomes.explains if base.chief else outcomes.posterior)[keep]
    orders = _ranked(q, outcomes.posterior[keep], name_rank)[:, : len(current)]
    moves = np.abs(q[:, current] - base_q[current])
    changed = (orders != current).any(axis=1)
    moved = moves.max(axis=1, initial=0.0) > threshold
    blocking = np.flatnonzero(changed | moved)
    if not len(blocking):
        return (
            True,
            f"no answer to any of the {len(outcomes.variables)} remaining questions changes the top {top} "
            f"or moves any of them by more than {threshold:.1%}",
            top_names,
        )
    j = blocking[np.argmax(outcomes.probability[keep[blocking]])]  # the most probable blocking answer
    a = keep[j]
    v = int(outcomes.owner()[a])
    var = outcomes.variables[v]
    answer = f"{var.name}={var.labels[a - outcomes.start[v]]} (probability {outcomes.probability[a]:.1%})"
    if changed[j]:
        return (
            False,
            f"answering {answer} would change the top {top} to {', '.join(names[c] for c in orders[j])}",
            top_names,
        )
    c = current[int(np.argmax(moves[j]))]
    return False, f"answering {answer} would move {names[c]} by {q[j, c] - base_q[c]:+.1%}", top_names


def recommend_tests(
    evidence: Mapping[str, Any] | None = None,
    *,
    model: Model | None = None,
    cost_weight: float = DEFAULT_COST_WEIGHT,
    criterion: Criterion = "entropy",
) -> tuple[TestRecommendation, ...]:
    """The diagnostic tests the articles name, ranked by value of information traded against cost.

    The trade-off is ``score = VOI / (1 + tier_index) ** cost_weight``, ``tier_index`` being the test's
    place in ``question < examination < lab < ultrasound < xray < ct_mri_emg < angiography`` (0 to 6).
    A ratio, not a difference, so the ranking does not depend on the criterion's units, a test of no
    value never outranks one of some value, and ``cost_weight=0`` ranks by value alone. With the
    default 1, an MRI (tier 5) must tell twice as much as a blood test (tier 2) to rank above it.

    Parameters
    ----------
    evidence
        As for :func:`numbdx.infer`. Tests whose result is already given are left out.
    model
        The model; the shipped one by default (a sub-model offers the tests it keeps).
    cost_weight
        The exponent of the cost penalty (non-negative).
    criterion
        ``"entropy"`` (bits) or ``"misclassification"``.

    Returns
    -------
    tuple of TestRecommendation
        Highest score first (then higher value, cheaper tier, name).

    Raises
    ------
    As :func:`next_questions`; ``ValueError`` for a negative or non-finite ``cost_weight``.
    """
    if isinstance(cost_weight, bool) or not isinstance(cost_weight, int | float) or not 0 <= cost_weight < math.inf:
        raise ValueError(f"cost_weight must be a non-negative number, got {cost_weight!r}")
    model, ev, variables = _prepare(evidence, model, criterion)
    records = [t for t in model.knowledge.actions.get("test", ()) if t["finding"] in variables]
    candidates = [variables[t["finding"]] for t in records if _askable(ev, variables[t["finding"]])]
    base, outcomes, _ = _evaluate(model, ev, candidates)
    values = {q.name: q for q in _values(model, base, outcomes, criterion)}
    out = []
    for record in records:
        q = values.get(record["finding"])
        if q is None:
            continue
        tier_index = TEST_TIERS.index(record["tier"])
        provenance = record["provenance"]
        out.append(
            TestRecommendation(
                name=q.name,
                label=record["label"],
                tier=record["tier"],
                tier_index=tier_index,
                value=q.value,
                error_bound=q.error_bound,
                score=q.value / (1 + tier_index) ** cost_weight,
                p_abnormal=next(a.probability for a in q.answers if a.value is True),
                citation={
                    "source": provenance.source,
                    "section": provenance.section,
                    "quote": provenance.quote,
                    "note": provenance.note,
                },
            )
        )
    return tuple(sorted(out, key=lambda t: (-t.score, -t.value, t.tier_index, t.name)))
