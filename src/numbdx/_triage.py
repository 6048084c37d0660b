"""The clinical decision layer: how urgently to seek care, and which specialist, given a differential.

:func:`triage` turns a :class:`~numbdx.Differential` into one of four levels, most urgent first:
``"emergency"`` (call an ambulance), ``"urgent"`` (see a doctor within a day), ``"routine"`` (book the
right specialist) and ``"self_care"`` (a physiological cause: remove it, see a doctor if it recurs).
:func:`specialists` ranks the specialists by the share of the differential their causes hold.

The rules live in ``priors/triage.toml`` (and the ``[[urgent_sign]]`` and ``[[cause_specialists]]``
records of ``priors/actions.toml``), one sourced record per fact, validated on load like the rest of the
knowledge base. Neither function states a diagnosis: they say what to do about *possible* causes.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._priors import CAUSE_GROUPS, KnowledgeBase, Number, Provenance, _Reader, _unique, load_knowledge_base

if TYPE_CHECKING:
    from ._engine import LeftOut
    from ._model import Model
    from ._result import Differential

__all__ = [
    "LEVELS",
    "TRIAGE_DISCLAIMER",
    "TRIAGE_FORMAT",
    "CauseThreshold",
    "SelfCareRule",
    "SignRule",
    "SpecialistAdvice",
    "SpecialistCause",
    "Triage",
    "TriageReason",
    "TriageRules",
    "level_rank",
    "load_triage",
    "specialists",
    "triage",
]

TRIAGE_FILE = "triage.toml"
TRIAGE_FORMAT = "numbdx.triage/1"
TRIAGE_DISCLAIMER = (
    "Advice on how urgently to seek care, for a clinician or a triage service; not a diagnosis. "
    "If symptoms worsen or new ones appear, seek medical care sooner."
)
# Least to most urgent: the level of a triage is the maximum over its rules in this order.
LEVELS = ("self_care", "routine", "urgent", "emergency")
# A red flag always calls for a doctor, so a sign or a threshold cannot advise self-care.
RAISING_LEVELS = LEVELS[1:]
ACTION_SIGN_LEVELS = ("emergency", "urgent", "neurologist")
PROBABILITIES = ("posterior", "explains")
_PHRASE = {
    "emergency": "emergency care now",
    "urgent": "a doctor within a day",
    "routine": "a planned visit to a doctor",
    "self_care": "self-care",
}


def level_rank(level: str) -> int:
    """Position of ``level`` in :data:`LEVELS` (0 = ``"self_care"``, 3 = ``"emergency"``)."""
    try:
        return LEVELS.index(level)
    except ValueError:
        raise ValueError(f"unknown triage level {level!r}; levels are {LEVELS}") from None


# --- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageReason:
    """One rule that fired, with the words of the source it rests on.

    Attributes
    ----------
    level : str
        The level this rule asks for (one of :data:`LEVELS`).
    kind : str
        ``"red_flag_finding"`` (a red-flag sign is in the evidence), ``"posterior_threshold"`` (a
        red-flag cause's probability reached its threshold), ``"physiological"`` (the self-care rule) or
        ``"default"`` (no rule fired: a planned visit).
    text : str
        What fired, in words.
    source, section, quote : str or None
        The article (``"legs"``/``"heels"``), heading and words the rule rests on; ``source`` is
        ``"assumption"`` (with no section or quote) for a rule the articles do not give.
    note : str or None
        Where the rule is more than the quoted words: our reading, and for a threshold, that its number
        is a modelling assumption and what it rests on.
    rule : str
        The record of ``triage.toml`` or ``actions.toml`` that fired.
    """

    level: str
    kind: str
    text: str
    source: str
    section: str | None
    quote: str | None
    note: str | None = None
    rule: str = ""


@dataclass(frozen=True)
class Triage:
    """How urgently to seek care for a differential (see :func:`triage`).

    Attributes
    ----------
    level : str
        ``"emergency"``, ``"urgent"``, ``"routine"`` or ``"self_care"``: the most urgent level of any
        rule that fired.
    reasons : tuple of TriageReason
        Every red-flag sign and threshold that fired, then the self-care or default rule when it sets
        the level; most urgent first.
    red_flag_findings : tuple of str
        Evidence names of the red-flag findings present (those of the signs that fired).
    advice : str
        What to do, in plain words; never a diagnosis.
    """

    level: str
    reasons: tuple[TriageReason, ...]
    red_flag_findings: tuple[str, ...]
    advice: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        return {
            "format": TRIAGE_FORMAT,
            "level": self.level,
            "reasons": [asdict(r) for r in self.reasons],
            "red_flag_findings": list(self.red_flag_findings),
            "advice": self.advice,
            "disclaimer": TRIAGE_DISCLAIMER,
        }


@dataclass(frozen=True)
class SpecialistCause:
    """One cause behind a specialist's share: its contribution and where the mapping comes from."""

    name: str
    label: str
    share: float
    source: str
    section: str | None
    quote: str | None
    note: str | None


@dataclass(frozen=True)
class SpecialistAdvice:
    """A specialist, the share of the differential their causes hold, and the source that lists them.

    Attributes
    ----------
    name, label : str
        The specialist (a ``[[specialist]]`` record of ``actions.toml``).
    share : float
        Share of the differential's probability mass this specialist handles (see :func:`specialists`);
        the shares of all specialists sum to one.
    causes : tuple of SpecialistCause
        The causes contributing to ``share``, largest contribution first, each with the provenance of
        its cause-to-specialist mapping (many are labelled assumptions).
    source, section, quote, note
        Where the articles list this specialist.
    """

    name: str
    label: str
    share: float
    causes: tuple[SpecialistCause, ...]
    source: str
    section: str | None
    quote: str | None
    note: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types."""
        # written out: dataclasses.asdict deep-copies recursively, 1.4 ms per answer in the service
        return {
            "name": self.name,
            "label": self.label,
            "share": self.share,
            "causes": [
                {
                    "name": c.name,
                    "label": c.label,
                    "share": c.share,
                    "source": c.source,
                    "section": c.section,
                    "quote": c.quote,
                    "note": c.note,
                }
                for c in self.causes
            ],
            "source": self.source,
            "section": self.section,
            "quote": self.quote,
            "note": self.note,
        }


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignRule:
    """A red-flag sign: fires when any (or all) of its findings are present; raises to ``level``."""

    name: str
    level: str
    findings: tuple[str, ...]
    match: str
    provenance: Provenance
    origin: str  # "actions.toml" or "triage.toml"
    level_provenance: Provenance | None = None  # the [[sign_level]] record that mapped an actions level
    advice: str = ""


@dataclass(frozen=True)
class CauseThreshold:
    """Raise to ``level`` when ``probability`` (posterior or explains) of ``cause`` reaches ``threshold``."""

    cause: str
    level: str
    probability: str
    threshold: Number
    provenance: Provenance


@dataclass(frozen=True)
class SelfCareRule:
    """Self-care when causes of ``groups`` rank first and hold at least ``share`` of the explaining mass."""

    groups: tuple[str, ...]
    share: Number
    provenance: Provenance
    advice: Mapping[str, tuple[str, Provenance]]


@dataclass(frozen=True)
class TriageRules:
    """The validated content of ``triage.toml`` joined with the urgent signs of ``actions.toml``."""

    path: Path
    levels: Mapping[str, tuple[str, Provenance]]
    sign_levels: Mapping[str, tuple[str, str, Provenance]]  # actions.toml level -> (level, advice, provenance)
    signs: tuple[SignRule, ...]
    thresholds: tuple[CauseThreshold, ...]
    self_care: SelfCareRule

    @property
    def red_flag_finding_names(self) -> tuple[str, ...]:
        """Every finding named by a red-flag sign, in first-mention order."""
        return tuple(dict.fromkeys(f for sign in self.signs for f in sign.findings))

    def provenances(self) -> Iterator[Provenance | Number]:
        """Every sourced record of ``triage.toml`` (for the check that quotes are in their sources)."""
        for _, prov in self.levels.values():
            yield prov
        for sign in self.signs:
            if sign.origin == "triage.toml":
                yield sign.provenance
        for _, _, prov in self.sign_levels.values():
            yield prov
        for rule in self.thresholds:
            yield rule.provenance
            yield rule.threshold
        yield self.self_care.provenance
        yield self.self_care.share
        for _, prov in self.self_care.advice.values():
            yield prov


_cache: dict[tuple[str, str, str], TriageRules] = {}
_cache_lock = threading.Lock()


def load_triage(directory: str | Path | None = None, *, knowledge: KnowledgeBase | None = None) -> TriageRules:
    """Read and validate ``triage.toml`` against the knowledge base it belongs to.

    Parameters
    ----------
    directory
        The ``priors`` folder; by default ``knowledge.directory``, else the shipped one
        (:func:`numbdx._priors.priors_dir`, which a built wheel carries as ``numbdx/priors``).
    knowledge
        The loaded knowledge base of that folder (loaded from ``directory`` when not given); the rules
        are checked against its causes, findings and urgent signs.

    Raises
    ------
    PriorsError
        The file is missing or malformed; the message names the file, the record and the problem.
    """
    if knowledge is None:
        knowledge = load_knowledge_base(Path(directory) if directory is not None else None)
    path = Path(directory if directory is not None else knowledge.directory) / TRIAGE_FILE
    try:
        content = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        content = ""  # _Reader raises the PriorsError that names the file
    key = (str(path.resolve()), content, knowledge.digest)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    rules = _read_rules(path, knowledge)
    with _cache_lock:
        _cache[key] = rules
    return rules


def _read_rules(path: Path, kb: KnowledgeBase) -> TriageRules:
    reader = _Reader(path, kb.scales)
    findings = {f.name: f for f in kb.findings}
    causes = {c.name: c for c in kb.causes}

    def level_of(record: Mapping[str, Any], where: str, allowed: Sequence[str]) -> str:
        level = reader.text(record, "level", where)
        if level not in allowed:
            raise reader.fail(where, f"level must be one of {tuple(allowed)}, got {level!r}")
        return level

    # what each level advises
    levels: dict[str, tuple[str, Provenance]] = {}
    for record in reader.records("level"):
        name = reader.text(record, "name", "[[level]]")
        where = f"level {name!r}"
        if name not in LEVELS:
            raise reader.fail(where, f"name must be one of {LEVELS}")
        if name in levels:
            raise reader.fail(where, "defined twice")
        levels[name] = (reader.text(record, "advice", where), reader.provenance(record, where))
    missing = [name for name in LEVELS if name not in levels]
    if missing:
        raise reader.fail("[[level]]", f"no record for level(s) {missing}")

    # actions.toml's urgent-sign levels as triage levels
    mapping: dict[str, tuple[str, str, Provenance]] = {}
    for record in reader.records("sign_level"):
        sign_level = reader.text(record, "sign_level", "[[sign_level]]")
        where = f"sign level {sign_level!r}"
        if sign_level not in ACTION_SIGN_LEVELS:
            raise reader.fail(where, f"sign_level must be one of {ACTION_SIGN_LEVELS}")
        if sign_level in mapping:
            raise reader.fail(where, "defined twice")
        level = level_of(record, where, RAISING_LEVELS)
        mapping[sign_level] = (
            level,
            reader.text(record, "advice", where, optional=True),
            reader.provenance(record, where),
        )
    signs: list[SignRule] = []
    for sign in kb.actions.get("urgent_sign", ()):
        if sign["level"] not in mapping:
            raise reader.fail("[[sign_level]]", f"no record maps actions.toml level {sign['level']!r}")
        level, advice, level_prov = mapping[sign["level"]]
        signs.append(
            SignRule(
                name=sign["name"],
                level=level,
                findings=tuple(sign["findings"]),
                match=sign["match"],
                provenance=sign["provenance"],
                origin="actions.toml",
                level_provenance=level_prov,
                advice=advice,
            )
        )

    # red-flag signs of our own
    for record in reader.records("red_flag_sign"):
        name = reader.text(record, "name", "[[red_flag_sign]]")
        where = f"red-flag sign {name!r}"
        sign_findings = reader.names(record, "findings", where)
        if not sign_findings:
            raise reader.fail(where, "findings must name at least one finding (a sign without findings never fires)")
        unknown = sorted(f for f in sign_findings if f not in findings or findings[f].kind == "side")
        if unknown:
            raise reader.fail(where, f"unknown or non-binary finding(s) {unknown}")
        match = record.get("match", "any")
        if match not in ("any", "all"):
            raise reader.fail(where, f"match must be 'any' or 'all', got {match!r}")
        signs.append(
            SignRule(
                name=name,
                level=level_of(record, where, RAISING_LEVELS),
                findings=sign_findings,
                match=match,
                provenance=reader.provenance(record, where),
                origin="triage.toml",
            )
        )
    _unique(reader, [s.name for s in signs], "red-flag sign (names are shared with actions.toml's urgent signs)")

    # thresholds on red-flag causes
    thresholds: list[CauseThreshold] = []
    for record in reader.records("cause_threshold"):
        cause = reader.text(record, "cause", "[[cause_threshold]]")
        where = f"cause threshold {cause!r}"
        if cause not in causes:
            raise reader.fail(where, f"unknown cause {cause!r}")
        probability = record.get("probability", "posterior")
        if probability not in PROBABILITIES:
            raise reader.fail(where, f"probability must be one of {PROBABILITIES}, got {probability!r}")
        number = reader.number(record, "threshold", where)
        if number.value <= 0:
            raise reader.fail(f"{where}: threshold", "must be above 0 (a threshold of 0 fires for everyone)")
        thresholds.append(
            CauseThreshold(
                cause, level_of(record, where, RAISING_LEVELS), probability, number, reader.provenance(record, where)
            )
        )
    _unique(reader, [t.cause for t in thresholds], "cause threshold")
    uncovered = sorted(c.name for c in kb.causes if c.red_flag and c.name not in {t.cause for t in thresholds})
    if uncovered:
        raise reader.fail("[[cause_threshold]]", f"red-flag cause(s) {uncovered} of causes.toml have no threshold")

    # self-care
    table = reader.data.get("self_care")
    if not isinstance(table, dict):
        raise reader.fail("[self_care]", "the table is required")
    groups = reader.names(table, "groups", "[self_care]")
    if not groups or set(groups) - set(CAUSE_GROUPS):
        raise reader.fail("[self_care]", f"groups must be a non-empty list of {CAUSE_GROUPS}, got {list(groups)}")
    share = reader.number(table, "share", "[self_care]")
    advice: dict[str, tuple[str, Provenance]] = {}
    for record in reader.records("self_care_advice"):
        cause = reader.text(record, "cause", "[[self_care_advice]]")
        where = f"self-care advice for {cause!r}"
        if cause not in causes or causes[cause].group not in groups:
            raise reader.fail(where, f"{cause!r} is not a cause of the self-care groups {list(groups)}")
        if cause in advice:
            raise reader.fail(where, "defined twice")
        advice[cause] = (reader.text(record, "advice", where), reader.provenance(record, where))
    missing = sorted(c.name for c in kb.causes if c.group in groups and c.name not in advice)
    if missing:
        raise reader.fail("[[self_care_advice]]", f"no advice for self-care cause(s) {missing}")
    self_care = SelfCareRule(groups, share, reader.provenance(table, "[self_care]"), advice)

    return TriageRules(path, levels, mapping, tuple(signs), tuple(thresholds), self_care)


# --- triage -----------------------------------------------------------------------------------------


def _present(kb: KnowledgeBase, evidence: Mapping[str, Any], name: str) -> bool:
    """Whether finding ``name`` is present in normalised evidence (a categorical one: its first state)."""
    value = evidence.get(name)
    if name == "leg_numbness" or value is None or isinstance(value, bool):
        return value is True
    finding = next((f for f in kb.findings if f.name == name), None)
    return finding is not None and bool(finding.states) and value == finding.states[0]


def _fires(sign: SignRule, kb: KnowledgeBase, evidence: Mapping[str, Any]) -> bool:
    if not sign.findings:  # advice-only signs of actions.toml
        return False
    test = all if sign.match == "all" else any
    return test(_present(kb, evidence, f) for f in sign.findings)


def _label(kb: KnowledgeBase, name: str) -> str:
    finding = next((f for f in kb.findings if f.name == name), None)
    return finding.label.lower() if finding is not None else name.replace("_", " ")


def _sign_reason(sign: SignRule, kb: KnowledgeBase, evidence: Mapping[str, Any]) -> TriageReason:
    present = [f for f in sign.findings if _present(kb, evidence, f)]
    text = (
        f"Red-flag sign '{sign.name}' ({sign.origin}): {', '.join(_label(kb, f) for f in present)} reported; "
        f"it calls for {_PHRASE[sign.level]}."
    )
    notes = [sign.provenance.note] if sign.provenance.note else []
    if sign.level_provenance is not None:
        lp = sign.level_provenance
        notes.append(f"Level {sign.level!r} from {lp.source}, '{lp.section}': '{lp.quote}'.")
    prov = sign.provenance
    return TriageReason(
        sign.level, "red_flag_finding", text, prov.source, prov.section, prov.quote, " ".join(notes) or None, sign.name
    )


def _threshold_reason(rule: CauseThreshold, p: float, left_out: Sequence[str]) -> TriageReason:
    what = "present" if rule.probability == "posterior" else "producing the numbness"
    text = (
        f"P({rule.cause} {what}) = {p:.1%} reaches the threshold {rule.threshold.value:.1%}; "
        f"a possible {rule.cause.replace('_', ' ')} calls for {_PHRASE[rule.level]}."
    )
    if left_out:
        # the monotone guarantee: a red-flag finding never argues a danger away (see triage())
        text += f" (Computed with the red-flag finding(s) {', '.join(left_out)} left out.)"
    n = rule.threshold
    if n.source == "assumption":
        basis = f"The threshold is a modelling assumption: {n.note}"
    else:
        basis = f"The threshold rests on {n.source}, '{n.section}': '{n.quote}'. {n.note or ''}".strip()
    if n.citation:
        basis += f" ({n.citation})"
    prov = rule.provenance
    note = " ".join(part for part in (prov.note, basis) if part)
    return TriageReason(
        rule.level, "posterior_threshold", text, prov.source, prov.section, prov.quote, note, rule.cause
    )


# a threshold check reads each probability at the top of its bound, so 1e-6 (not infer's 1e-9)
# suffices and spares the extended-precision pass
LEFT_OUT_TARGET_ERROR = 1e-6


def _rules(model: Model) -> TriageRules:
    """The model's triage rules, read once per model: the knowledge base it was built from is fixed,
    so are its rules."""
    rules = model.__dict__.get("_triage_rules")
    if rules is None:
        rules = model.__dict__["_triage_rules"] = load_triage(knowledge=model.knowledge)
    return rules


def _reduced(model: Model, evidence: Mapping[str, Any], subsets: Sequence[tuple[str, ...]]) -> list[tuple[Any, float]]:
    """For each subset of findings left out of ``evidence``: the posteriors then explains of every
    cause ``(2C,)`` and the answer's error bound, from one batched engine call (None for a row the
    engine cannot answer)."""
    from ._engine import codes_from_evidence, infer_codes
    from ._evidence import normalise

    rows = [normalise(model, {k: v for k, v in evidence.items() if k not in left_out}) for left_out in subsets]
    answer = infer_codes(model, codes_from_evidence(model, rows), with_prior=False, target_error=LEFT_OUT_TARGET_ERROR)
    out = []
    for r, failure in enumerate(answer.failure):
        if failure is not None:
            out.append((None, 0.0))
        else:
            out.append((np.concatenate([answer.posterior[r], answer.explains[r]]), float(answer.error_bound[r])))
    return out


def left_out_request(model: Model, evidence: Mapping[str, Any]) -> tuple[list[tuple[str, ...]], LeftOut] | None:
    """The re-checks :func:`triage` may need for ``evidence`` (normalised values), to be answered with
    the evidence itself (``_engine.infer_codes``'s ``left_out``): every non-empty subset of the present
    red-flag findings, in the order the triage reads them, and the ``_engine.LeftOut`` of their finding
    indices and the thresholds' causes; None where no red-flag finding is present, the model lacks
    one, or the signs the evidence fires already reach the thresholds' most urgent level (then no
    re-check can raise the level)."""
    from ._engine import LeftOut

    rules = _rules(model)
    kb = model.knowledge
    present = [f for f in rules.red_flag_finding_names if _present(kb, evidence, f)]
    if not present or any(name not in model.finding_index for name in present):
        return None
    highest = max((level_rank(t.level) for t in rules.thresholds), default=0)
    if max((level_rank(s.level) for s in rules.signs if _fires(s, kb, evidence)), default=0) >= highest:
        return None
    subsets = [s for size in range(1, len(present) + 1) for s in itertools.combinations(present, size)]
    causes = sorted({model.cause_index[t.cause] for t in rules.thresholds if t.cause in model.cause_index})
    indices = tuple(tuple(model.finding_index[name] for name in subset) for subset in subsets)
    return subsets, LeftOut(indices, tuple(causes), LEFT_OUT_TARGET_ERROR)


def _left_out(model: Model, evidence: Mapping[str, Any]) -> dict[tuple[str, ...], tuple[Any, float] | None]:
    """The threshold causes' probabilities and bound with every subset of the present red-flag
    findings left out, from one elimination of the whole evidence's terms where the engine can
    (``_engine.left_out_answers``: positives expanded with signs, evidence of 256 terms or more),
    else nothing; a subset it could not bound is left for :func:`_reduced`. (``infer`` passes the
    answers it already has: the answer's own elimination gives them wherever it keeps ``Z``, numpy's
    below 256 terms and double-double from exact inputs at any size.)"""
    from ._engine import left_out_answers
    from ._evidence import normalise

    request = left_out_request(model, evidence)
    if request is None:
        return {}
    subsets, left_out = request
    answers = left_out_answers(model, normalise(model, evidence), left_out)
    return {} if answers is None else dict(zip(subsets, answers))


def _probability(differential: Differential, rule: CauseThreshold) -> float | None:
    try:
        cause = differential[rule.cause]
    except KeyError:  # a sub-model's differential lacks the cause
        return None
    # a sampled answer is only known to within its error bound: read it at its upper end, so an
    # approximation never argues a danger away
    return (cause.posterior if rule.probability == "posterior" else cause.explains) + differential.error_bound


def _self_care(rules: TriageRules, differential: Differential) -> tuple[bool, float, list[str]]:
    """Whether the self-care rule holds, the self-care groups' share, and their causes in rank order."""
    care = rules.self_care
    total = sum(c.explains for c in differential.causes)
    mine = [c for c in differential.causes if c.group in care.groups]
    share = sum(c.explains for c in mine) / total if total > 0 else 0.0
    holds = bool(differential.causes) and differential.causes[0].group in care.groups and share >= care.share.value
    return holds and total > 0, share, [c.name for c in mine if c.explains > 0]


def triage(
    model: Model,
    differential: Differential,
    left_out: Mapping[tuple[str, ...], tuple[Any, float] | None] | None = None,
) -> Triage:
    """How urgently to seek care for ``differential``: the most urgent level of every rule that fires.

    Rules (``priors/triage.toml``, with ``priors/actions.toml``'s urgent signs):

    1. **Red-flag signs**: a sign whose findings are present (any, or all, as the record says) raises the
       level to the sign's level, whatever the posteriors say (stroke signs: emergency; thrombosis and
       limb-ischaemia signs: urgent or emergency; the neurologist signs: routine).
    2. **Posterior thresholds**: a red-flag cause whose probability reaches its threshold raises the
       level to the threshold's level (as shipped: stroke, encephalitis and brain injury: emergency;
       thrombosis and frostbite: urgent; endarteritis: routine, which only rules out self-care). A
       red-flag finding can explain the numbness better than a danger does and so lower the danger's
       posterior (impaired coordination lowers that of stroke); so that it can never argue the danger
       away, the thresholds are also checked on the evidence with each non-empty subset of the present
       red-flag findings (every finding any sign names) left out: up to ``2**k - 1`` more inferences
       for ``k`` such findings, run only while a more urgent level is still reachable (where such
       findings are positives expanded with signs, all of them come from the whole evidence's terms
       instead: from the answer's own elimination, or from one more where the kernels' float64 sums
       keep no ``Z`` (256 terms or more); for many positives from one elimination over the findings'
       choices; none is asked once a sign reaches the most urgent
       level). Hence adding the findings of a red-flag
       sign to evidence that did not mention them never lowers the level.
    3. **Self-care**: ``"self_care"`` when the top cause by ``explains`` belongs to a self-care group
       (physiological: position, tight shoes, fatigue, pregnancy) and those causes hold at least the
       ``[self_care] share`` of the summed ``explains``; otherwise ``"routine"`` (the default).

    Parameters
    ----------
    model
        The model the differential comes from (its knowledge base holds the rules; the thresholds'
        re-checks infer with it).
    differential
        The result of :func:`numbdx.infer` (or one built by hand; its ``evidence`` is what the signs
        read).
    left_out
        The re-checks' answers already made with the differential's own elimination (``numbdx.infer``:
        :func:`left_out_request`, ``_engine.Answer.left_out``), by subset of red-flag findings; a
        subset missing or None is inferred here. None: make them here.

    Returns
    -------
    Triage
        The level, the reasons (each citing its source), the red-flag findings present, and advice.

    Raises
    ------
    PriorsError
        ``triage.toml`` is missing or malformed.
    EvidenceError
        The differential's evidence does not fit ``model`` (a re-check infers with it).
    """
    kb = model.knowledge
    rules = _rules(model)
    evidence = differential.evidence

    fired = [s for s in rules.signs if _fires(s, kb, evidence)]
    reasons = [_sign_reason(s, kb, evidence) for s in fired]
    for rule in rules.thresholds:
        p = _probability(differential, rule)
        if p is not None and p >= rule.threshold.value:
            reasons.append(_threshold_reason(rule, p, ()))
    current = max((level_rank(r.level) for r in reasons), default=0)

    # Re-check the thresholds with subsets of the red-flag findings left out (rule 2).
    highest = max((level_rank(t.level) for t in rules.thresholds), default=0)
    present = [f for f in rules.red_flag_finding_names if _present(kb, evidence, f)]
    if not present or current >= highest:
        ready = {}
    elif left_out is None:
        ready = _left_out(model, evidence)
    else:
        ready = left_out
    for size in range(1, len(present) + 1):
        if current >= highest:
            break
        # every subset of this size in one batched engine call (smallest subsets first, so the reason
        # given names the fewest findings), but for those answered from the whole evidence's terms
        subsets = list(itertools.combinations(present, size))
        missing = [left_out for left_out in subsets if ready.get(left_out) is None]
        inferred = dict(zip(missing, _reduced(model, evidence, missing))) if missing else {}
        reduced = [ready.get(left_out) or inferred[left_out] for left_out in subsets]
        for left_out, (row, bound) in zip(subsets, reduced):
            if current >= highest:
                break
            if row is None:
                continue
            for rule in (t for t in rules.thresholds if level_rank(t.level) > current):
                c = model.cause_index.get(rule.cause)
                if c is None:  # a sub-model lacks the cause
                    continue
                p = float(row[c] if rule.probability == "posterior" else row[len(model.causes) + c]) + bound
                if p >= rule.threshold.value and level_rank(rule.level) > current:
                    reasons.append(_threshold_reason(rule, p, left_out))
                    current = level_rank(rule.level)

    # Self-care or the default planned visit, when no red flag sets a higher level (rule 3).
    holds, share, care_causes = _self_care(rules, differential)
    if current == 0:
        if holds:
            prov = rules.self_care.provenance
            names = ", ".join(care_causes[:3])
            text = (
                f"Possible physiological causes ({names}) rank first and explain {share:.0%} of the numbness "
                f"(self-care needs {rules.self_care.share.value:.0%}); no red flag fired."
            )
            note = " ".join(
                p
                for p in (prov.note, f"The share threshold is a modelling assumption: {rules.self_care.share.note}")
                if p
            )
            reasons.append(
                TriageReason(
                    "self_care", "physiological", text, prov.source, prov.section, prov.quote, note, "self_care"
                )
            )
        else:
            current = level_rank("routine")
    if current == level_rank("routine") and not reasons:
        _, prov = rules.levels["routine"]
        text = (
            f"No red flag fired and the physiological causes do not hold most of the probability "
            f"({share:.0%}): a planned visit to a doctor."
        )
        reasons.append(
            TriageReason("routine", "default", text, prov.source, prov.section, prov.quote, prov.note, "default")
        )

    level = LEVELS[current]
    reasons.sort(key=lambda r: -level_rank(r.level))  # stable: signs before thresholds within a level
    red_flag_findings = tuple(dict.fromkeys(f for s in fired for f in s.findings if _present(kb, evidence, f)))

    advice = [rules.levels[level][0]]
    advice += list(dict.fromkeys(s.advice for s in fired if s.advice))
    if level == "self_care":
        top = [c.name for c in differential.causes[:3] if c.name in rules.self_care.advice and c.explains > 0]
        advice += [rules.self_care.advice[name][0] for name in top]
    return Triage(level, tuple(reasons), red_flag_findings, " ".join(advice))


# --- specialists ------------------------------------------------------------------------------------


def _specialist_lists(model: Model) -> tuple[dict[str, Any], dict[str, tuple[list[str], float, Any]]]:
    """``actions.toml``'s specialists by name, and per cause its specialists, the harmonic number of
    their count and the provenance: read once per model (its knowledge base is fixed)."""
    cached = model.__dict__.get("_specialist_lists")
    if cached is None:
        actions = model.knowledge.actions
        listed = {s["name"]: s for s in actions["specialist"]}
        per_cause = {
            c["cause"]: (c["specialists"], sum(1 / k for k in range(1, len(c["specialists"]) + 1)), c["provenance"])
            for c in actions["cause_specialists"]
        }
        cached = model.__dict__["_specialist_lists"] = (listed, per_cause)
    return cached


def specialists(model: Model, differential: Differential) -> tuple[SpecialistAdvice, ...]:
    """Specialists ranked by the share of the differential's probability mass their causes hold.

    Each cause's weight is its ``explains`` (P(present and producing the numbness | evidence)); when the
    evidence says there is no leg numbness (every ``explains`` is 0) its ``posterior`` instead, as the
    differential's own ranking does. ``actions.toml`` lists each cause's specialists most relevant first;
    the cause's weight is split among them in proportion to 1/rank (1, 1/2, 1/3, ...). A specialist's
    ``share`` is the sum of its parts over all causes, divided by the total weight, so the shares sum to
    one:

    ``share(s) = sum_c w_c * (1/rank_c(s)) / H_c  /  sum_c w_c``, with ``H_c = sum_k 1/k`` over the
    cause's list.

    Parameters
    ----------
    model
        The model the differential comes from (its ``actions.toml`` maps causes to specialists).
    differential
        The result of :func:`numbdx.infer`.

    Returns
    -------
    tuple of SpecialistAdvice
        Specialists with a positive share, largest first (ties by name), each with its contributing
        causes and the source listing the specialist. Empty when every weight is zero.
    """
    listed, per_cause = _specialist_lists(model)
    use_explains = any(c.explains > 0 for c in differential.causes)
    weights = {c.name: (c.explains if use_explains else c.posterior) for c in differential.causes}
    total = sum(w for name, w in weights.items() if name in per_cause)
    if total <= 0:
        return ()
    parts: dict[str, list[SpecialistCause]] = {}
    for cause in differential.causes:
        record = per_cause.get(cause.name)
        if record is None or weights[cause.name] <= 0:
            continue
        names, harmonic, prov = record
        for k, name in enumerate(names, 1):
            share = weights[cause.name] * (1 / k) / harmonic / total
            parts.setdefault(name, []).append(
                SpecialistCause(cause.name, cause.label, share, prov.source, prov.section, prov.quote, prov.note)
            )
    out = []
    for name, causes in parts.items():
        prov = listed[name]["provenance"]
        out.append(
            SpecialistAdvice(
                name=name,
                label=listed[name]["label"],
                share=sum(c.share for c in causes),
                causes=tuple(sorted(causes, key=lambda c: (-c.share, c.name))),
                source=prov.source,
                section=prov.section,
                quote=prov.quote,
                note=prov.note,
            )
        )
    return tuple(sorted(out, key=lambda s: (-s.share, s.name)))
