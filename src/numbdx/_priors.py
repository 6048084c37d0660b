"""Load and validate the knowledge base in ``priors/``.

The TOML files are the single source of truth (their schema is ``priors/README.md``). A built wheel
carries them as ``numbdx/priors``; a source checkout or editable install reads the top-level
``priors/`` folder. Every record is validated here, and a malformed file raises :class:`PriorsError`
naming the file, the record and the problem, so no later code has to second-guess the data.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import itertools
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._exceptions import PriorsError

SOURCES = ("legs", "heels", "epidemiology", "assumption", "structural")
ARTICLE_SOURCES = ("legs", "heels")
SOURCE_FILES = {
    "legs": "seeds/000_acb80e411996660e.txt",
    "heels": "seeds/004_10d8bd80c518c9c9.txt",
    "epidemiology": "reference/epidemiology.md",
}
CAUSE_GROUPS = (
    "spinal",
    "peripheral_nerve",
    "central_nervous",
    "metabolic",
    "vascular",
    "musculoskeletal",
    "physiological",
    "other",
)
FINDING_KINDS = ("binary", "categorical", "side")
SIDE_STATES = ("left", "right", "both")
TEST_TIERS = ("question", "examination", "lab", "ultrasound", "xray", "ct_mri_emg", "angiography")
MAX_QUOTE_WORDS = 15
# tomllib is pure Python: the ten files took about 43 ms to parse, the larger part of a first answer
# after import. This file in the priors folder holds each file's parse as JSON (about 3 ms), keyed by
# the SHA-256 of the file's bytes: a file that does not match is parsed from its TOML, so an edit is
# never read from a stale parse (tests/test_priors.py fails until the cache is written again).
PARSED_CACHE = "parsed.jsonl"
PARSED_CACHE_FORMAT = 1
_PARSED_PREFIX = '{"sha256": "'  # each line of a file's parse starts so, then 64 hex digits


def priors_dir() -> Path:
    """Return the folder the knowledge base is read from (inside the wheel, else the source tree)."""
    packaged = importlib.resources.files("numbdx") / "priors"
    if packaged.is_dir():
        return Path(str(packaged))
    source_tree = Path(__file__).resolve().parents[2] / "priors"
    if source_tree.is_dir():
        return source_tree
    raise PriorsError(f"knowledge base not found: neither {packaged} nor {source_tree} exists")


def _parsed_lines() -> dict[str, str]:
    """The shipped parse cache (:data:`PARSED_CACHE`) as SHA-256 -> its line, for the files it
    holds; empty where it is absent or of another format (every file is then parsed from its TOML)."""
    try:
        path = priors_dir() / PARSED_CACHE
        stat = path.stat()
    except (PriorsError, OSError):
        return {}
    return _read_parsed_lines(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_parsed_lines(path: Path, mtime_ns: int, size: int) -> dict[str, str]:
    """:func:`_parsed_lines` for one version of the file (its modification time and size are the
    key, so a cache written again in a running process is read again)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        return {}
    if not isinstance(header, dict) or header.get("format") != PARSED_CACHE_FORMAT:
        return {}
    start = len(_PARSED_PREFIX)
    return {line[start : start + 64]: line for line in lines[1:] if line.startswith(_PARSED_PREFIX)}


def write_parse_cache(directory: Path | None = None) -> Path:
    """Write :data:`PARSED_CACHE` for every TOML file under ``directory`` (the priors folder by
    default), after an edit: ``python -c "import numbdx._priors as p; p.write_parse_cache()"``.
    Returns the file written."""
    import tomllib

    directory = Path(directory) if directory is not None else priors_dir()
    lines = [
        json.dumps(
            {
                "format": PARSED_CACHE_FORMAT,
                "what": "each TOML file's parse, keyed by the SHA-256 of its bytes (numbdx._priors, PARSED_CACHE)",
            }
        )
    ]
    for path in sorted(directory.rglob("*.toml")):
        raw = path.read_bytes()
        entry = {
            "sha256": hashlib.sha256(raw).hexdigest(),
            "file": path.relative_to(directory).as_posix(),
            "data": tomllib.loads(raw.decode("utf-8")),
        }
        lines.append(json.dumps(entry, ensure_ascii=False, allow_nan=False))
    target = directory / PARSED_CACHE
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def band_id(label: str) -> str:
    """Map an age-band label as written in the priors (``"65+"``, ``"30-49"``) to its id (``"65_plus"``)."""
    return label.replace("+", "_plus").replace("-", "_")


@dataclass(frozen=True)
class Number:
    """One sourced number: its value, plausible range and where it came from."""

    value: float
    low: float
    high: float
    source: str
    scale: str
    where: str
    section: str | None = None
    quote: str | None = None
    citation: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a record without a number (a specialist, a constraint) comes from."""

    source: str
    where: str
    section: str | None = None
    quote: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class RiskFactor:
    name: str
    label: str
    description: str
    prior: Number
    # (context, prior): context maps "age" (band id) and/or "sex" to a state.
    overrides: tuple[tuple[Mapping[str, str], Number], ...] = ()

    @property
    def context_parents(self) -> tuple[str, ...]:
        used = {key for context, _ in self.overrides for key in context}
        return tuple(v for v in ("age", "sex") if v in used)


@dataclass(frozen=True)
class OddsRatio:
    cause: str
    factor: str  # a risk factor name, "age:<band id>" or "sex:female"
    odds_ratio: Number


@dataclass(frozen=True)
class Cause:
    name: str
    label: str
    group: str
    red_flag: bool
    requires: tuple[str, ...]
    baseline: Number
    odds_ratios: tuple[OddsRatio, ...] = ()


@dataclass(frozen=True)
class Finding:
    name: str
    label: str
    group: str
    kind: str
    gated: bool
    leak: Number
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Link:
    cause: str
    finding: str
    p: Number


@dataclass(frozen=True)
class SideLink:
    cause: str
    p: Number
    unilateral: Number


@dataclass(frozen=True)
class KnowledgeBase:
    """The validated content of ``priors/``."""

    directory: Path
    digest: str
    scales: Mapping[str, Number]
    age_bands: tuple[str, ...]
    age_lower_bounds: tuple[float, ...]
    age_prior: tuple[Number, ...]
    sex_states: tuple[str, ...]
    sex_prior: tuple[Number, ...]
    risk_factors: tuple[RiskFactor, ...]
    causes: tuple[Cause, ...]
    findings: tuple[Finding, ...]
    links: tuple[Link, ...]
    sides: tuple[SideLink, ...]
    actions: Mapping[str, Any] = field(default_factory=dict)
    constraints: tuple[Mapping[str, Any], ...] = ()

    def numbers(self) -> Iterator[Number]:
        """Every number of the knowledge base (for provenance checks and sensitivity analysis)."""
        yield from self.age_prior
        yield from self.sex_prior
        for rf in self.risk_factors:
            yield rf.prior
            yield from (n for _, n in rf.overrides)
        for cause in self.causes:
            yield cause.baseline
            yield from (o.odds_ratio for o in cause.odds_ratios)
        yield from (f.leak for f in self.findings)
        yield from (link.p for link in self.links)
        for side in self.sides:
            yield side.p
            yield side.unilateral

    def provenances(self) -> Iterator[Provenance]:
        """Provenance of records that carry no number (actions, constraints)."""
        for kind in ("specialist", "cause_specialists", "urgent_sign", "test"):
            for record in self.actions.get(kind, ()):
                yield record["provenance"]
        for constraint in self.constraints:
            yield constraint["provenance"]


class _Reader:
    """Validation helpers that know which file and record they are reading, for error messages."""

    def __init__(self, path: Path, scales: Mapping[str, Number] | None) -> None:
        self.path = path
        self.scales = scales or {}
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise PriorsError(f"{path.name}: file is missing from {path.parent}") from None
        line = _parsed_lines().get(hashlib.sha256(raw).hexdigest())
        if line is not None:  # parsed afresh from its own line: no two readers share objects
            self.data = json.loads(line)["data"]
            return
        import tomllib  # here: with the cache, a usual load never needs it (4 ms of import)

        try:
            self.data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise PriorsError(f"{path.name}: not valid TOML: {exc}") from None

    def fail(self, where: str, problem: str) -> PriorsError:
        return PriorsError(f"{self.path.name}: {where}: {problem}")

    def records(self, key: str, *, required: bool = True) -> list[dict[str, Any]]:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(f"[[{key}]]", "no records (the file must define at least one)")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(f"[[{key}]]", "must be an array of tables")
        return value

    def text(self, record: Mapping[str, Any], key: str, where: str, *, optional: bool = False) -> str:
        value = record.get(key)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"field {key!r} must be a non-empty string, got {value!r}")
        return value

    def flag(self, record: Mapping[str, Any], key: str, where: str) -> bool:
        value = record.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(where, f"field {key!r} must be true or false, got {value!r}")
        return value

    def names(self, record: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, f"field {key!r} must be a list of names, got {value!r}")
        return tuple(value)

    def provenance(self, record: Mapping[str, Any], where: str) -> Provenance:
        source = record.get("source")
        if source not in SOURCES:
            raise self.fail(where, f"source must be one of {SOURCES}, got {source!r}")
        section = record.get("section")
        quote = record.get("quote")
        note = record.get("note")
        if source in ARTICLE_SOURCES or source == "epidemiology":
            self._check_quote(section, quote, where)
        elif not isinstance(note, str) or not note.strip():
            raise self.fail(where, f"a record from source {source!r} needs a 'note' saying why")
        return Provenance(source=source, where=where, section=section, quote=quote, note=note)

    def _check_quote(self, section: object, quote: object, where: str) -> None:
        if not isinstance(section, str) or not section.strip():
            raise self.fail(where, "an article or epidemiology source needs a 'section'")
        if not isinstance(quote, str) or not quote.strip():
            raise self.fail(where, "an article or epidemiology source needs a 'quote'")
        if len(quote.split()) > MAX_QUOTE_WORDS:
            raise self.fail(where, f"quote has {len(quote.split())} words; keep it to {MAX_QUOTE_WORDS}")

    def number(self, record: Mapping[str, Any], key: str, where: str, *, odds_ratio: bool = False) -> Number:
        where = f"{where}: {key}"
        raw = record.get(key)
        if not isinstance(raw, dict):
            raise self.fail(where, "must be an inline table {value, range, source, scale, ...}")
        unknown = set(raw) - {"value", "range", "source", "section", "quote", "scale", "citation", "note"}
        if unknown:
            raise self.fail(where, f"unknown field(s) {sorted(unknown)}")
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(where, f"value must be a finite number, got {value!r}")
        bounds = raw.get("range")
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
        ):
            raise self.fail(where, f"range must be [low, high], got {bounds!r}")
        low, high = float(bounds[0]), float(bounds[1])
        if not low <= value <= high:
            raise self.fail(where, f"value {value} lies outside its range [{low}, {high}]")
        if odds_ratio:
            if low < 1:
                raise self.fail(
                    where, f"an odds ratio must be >= 1 (a risk factor only raises risk), got range [{low}, {high}]"
                )
        elif not 0 <= low <= high <= 1:
            raise self.fail(where, f"a probability's range must lie in [0, 1], got [{low}, {high}]")
        prov = self.provenance(raw, where)
        scale = raw.get("scale")
        if not isinstance(scale, str):
            raise self.fail(
                where, "needs a 'scale' (a key of scales.toml, 'epidemiology', 'assumption' or 'structural')"
            )
        if scale in ("assumption", "structural"):
            if prov.source != scale:
                raise self.fail(where, f"scale {scale!r} needs source {scale!r}, got {prov.source!r}")
        elif scale == "epidemiology":
            if prov.source != "epidemiology":
                raise self.fail(where, f"scale 'epidemiology' needs source 'epidemiology', got {prov.source!r}")
            if not isinstance(raw.get("citation"), str):
                raise self.fail(where, "an epidemiology figure needs its 'citation'")
        elif self.scales:
            entry = self.scales.get(scale)
            if entry is None:
                raise self.fail(where, f"unknown scale {scale!r} (not a key of scales.toml)")
            if not entry.low <= value <= entry.high:
                raise self.fail(where, f"value {value} lies outside scale {scale!r} range [{entry.low}, {entry.high}]")
        if prov.source == "structural" and value not in (0, 1):
            raise self.fail(where, f"a structural number is 0 or 1, got {value}")
        return Number(
            value=float(value),
            low=low,
            high=high,
            source=prov.source,
            scale=scale,
            where=f"{self.path.name}: {where}",
            section=prov.section,
            quote=prov.quote,
            citation=raw.get("citation"),
            note=prov.note,
        )


def _unique(reader: _Reader, items: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in items:
        if name in seen:
            raise reader.fail(f"{what} {name!r}", "defined twice")
        seen.add(name)


def _load_scales(path: Path) -> dict[str, Number]:
    reader = _Reader(path, None)
    scales: dict[str, Number] = {}
    for record in reader.records("scale"):
        key = reader.text(record, "key", "[[scale]]")
        where = f"scale {key!r}"
        value, bounds = record.get("value"), record.get("range")
        if not isinstance(value, int | float) or not isinstance(bounds, list) or len(bounds) != 2:
            raise reader.fail(where, "needs a numeric 'value' and a 'range' [low, high]")
        if not bounds[0] <= value <= bounds[1]:
            raise reader.fail(where, f"value {value} outside its range {bounds}")
        reader.text(record, "citation", where)
        reader.text(record, "meaning", where)
        if key in scales:
            raise reader.fail(where, "defined twice")
        scales[key] = Number(
            value=float(value),
            low=float(bounds[0]),
            high=float(bounds[1]),
            source="scale",
            scale=key,
            where=f"{path.name}: {where}",
            citation=record["citation"],
            note=record["meaning"],
        )
    return scales


def load_knowledge_base(directory: Path | None = None) -> KnowledgeBase:
    """Read and validate every file of the knowledge base.

    Parameters
    ----------
    directory
        The ``priors`` folder; by default the one shipped with the package (see :func:`priors_dir`).

    Raises
    ------
    PriorsError
        A file is missing or malformed; the message names the file, the record and the problem.
    """
    directory = Path(directory) if directory is not None else priors_dir()
    scales = _load_scales(directory / "scales.toml")

    # context
    ctx = _Reader(directory / "context.toml", scales)
    age = ctx.data.get("age")
    sex = ctx.data.get("sex")
    if not isinstance(age, dict) or not isinstance(sex, dict):
        raise ctx.fail("[age]/[sex]", "both tables are required")
    age_bands = tuple(band_id(b) for b in ctx.names(age, "bands", "[age]"))
    bounds = age.get("lower_bounds")
    if (
        not isinstance(bounds, list)
        or len(bounds) != len(age_bands)
        or bounds[0] != 0
        or any(low >= high for low, high in itertools.pairwise(bounds))
    ):
        raise ctx.fail("[age]", "lower_bounds must start at 0, increase, and match the bands")
    if not isinstance(age.get("reference"), str) or band_id(age["reference"]) != "30_49":
        raise ctx.fail("[age]", "reference band must be 30-49 (the causes' baselines are stated for it)")
    age_prior_records = {band_id(r.get("band", "")): r for r in age.get("prior", [])}
    if set(age_prior_records) != set(age_bands):
        raise ctx.fail("[[age.prior]]", f"needs exactly one prior per band {age_bands}")
    age_prior = tuple(ctx.number(age_prior_records[b], "p", f"age band {b!r}") for b in age_bands)
    sex_states = ctx.names(sex, "states", "[sex]")
    if sex_states != ("female", "male") or sex.get("reference") != "male":
        raise ctx.fail("[sex]", "states must be ['female', 'male'] with reference 'male'")
    sex_prior_records = {r.get("state"): r for r in sex.get("prior", [])}
    if set(sex_prior_records) != set(sex_states):
        raise ctx.fail("[[sex.prior]]", "needs exactly one prior per state")
    sex_prior = tuple(ctx.number(sex_prior_records[s], "p", f"sex {s!r}") for s in sex_states)
    for what, prior in (("age", age_prior), ("sex", sex_prior)):
        if abs(sum(n.value for n in prior) - 1) > 1e-9:
            raise ctx.fail(f"[[{what}.prior]]", f"priors sum to {sum(n.value for n in prior)}, not 1")

    # risk factors
    rf_reader = _Reader(directory / "risk_factors.toml", scales)
    risk_factors = []
    for record in rf_reader.records("risk_factor"):
        name = rf_reader.text(record, "name", "[[risk_factor]]")
        where = f"risk factor {name!r}"
        overrides = []
        for i, when in enumerate(record.get("when", [])):
            context = when.get("context")
            if not isinstance(context, dict) or not context or set(context) - {"age", "sex"}:
                raise rf_reader.fail(f"{where}: when[{i}]", "context must map 'age' and/or 'sex' to a state")
            context = {k: band_id(v) if k == "age" else v for k, v in context.items()}
            if "age" in context and context["age"] not in age_bands:
                raise rf_reader.fail(
                    f"{where}: when[{i}]", f"unknown age band {context['age']!r}; bands are {age_bands}"
                )
            if "sex" in context and context["sex"] not in sex_states:
                raise rf_reader.fail(f"{where}: when[{i}]", f"unknown sex {context['sex']!r}")
            overrides.append((context, rf_reader.number(when, "prior", f"{where}: when {context}")))
        risk_factors.append(
            RiskFactor(
                name=name,
                label=rf_reader.text(record, "label", where),
                description=rf_reader.text(record, "description", where),
                prior=rf_reader.number(record, "prior", where),
                overrides=tuple(overrides),
            )
        )
    _unique(rf_reader, [r.name for r in risk_factors], "risk factor")
    rf_names = {r.name for r in risk_factors}

    # causes and their odds ratios
    cause_reader = _Reader(directory / "causes.toml", scales)
    odds_by_cause: dict[str, list[OddsRatio]] = {}
    for record in cause_reader.records("odds_ratio"):
        cause_name = cause_reader.text(record, "cause", "[[odds_ratio]]")
        factor = cause_reader.text(record, "factor", f"odds ratio of {cause_name!r}")
        where = f"odds ratio {cause_name!r} x {factor!r}"
        if factor.startswith("age:"):
            factor = "age:" + band_id(factor[4:])
            if factor[4:] not in age_bands or factor[4:] == "30_49":
                raise cause_reader.fail(where, f"age factor must name a non-reference band of {age_bands}")
        elif factor.startswith("sex:"):
            if factor != "sex:female":
                raise cause_reader.fail(where, "the only sex factor is 'sex:female' (male is the reference)")
        elif factor not in rf_names:
            raise cause_reader.fail(where, f"unknown risk factor {factor!r}")
        odds_by_cause.setdefault(cause_name, []).append(
            OddsRatio(cause_name, factor, cause_reader.number(record, "odds_ratio", where, odds_ratio=True))
        )
    causes = []
    for record in cause_reader.records("cause"):
        name = cause_reader.text(record, "name", "[[cause]]")
        where = f"cause {name!r}"
        group = cause_reader.text(record, "group", where)
        if group not in CAUSE_GROUPS:
            raise cause_reader.fail(where, f"group must be one of {CAUSE_GROUPS}, got {group!r}")
        requires = cause_reader.names(record, "requires", where)
        for r in requires:
            if r not in rf_names:
                raise cause_reader.fail(where, f"requires unknown risk factor {r!r}")
        baseline = cause_reader.number(record, "baseline", where)
        if baseline.value >= 1 or baseline.value <= 0:
            raise cause_reader.fail(where, "baseline must lie strictly between 0 and 1")
        ors = tuple(odds_by_cause.pop(name, []))
        _unique(cause_reader, [o.factor for o in ors], f"{where}: odds-ratio factor")
        if set(requires) & {o.factor for o in ors}:
            raise cause_reader.fail(where, "a factor cannot be both required and an odds ratio")
        causes.append(
            Cause(
                name=name,
                label=cause_reader.text(record, "label", where),
                group=group,
                red_flag=cause_reader.flag(record, "red_flag", where),
                requires=requires,
                baseline=baseline,
                odds_ratios=ors,
            )
        )
    if odds_by_cause:
        raise cause_reader.fail("[[odds_ratio]]", f"odds ratios for unknown cause(s) {sorted(odds_by_cause)}")
    _unique(cause_reader, [c.name for c in causes], "cause")
    cause_names = {c.name for c in causes}
    if "other_cause" not in cause_names:
        raise cause_reader.fail("[[cause]]", "the visible leak 'other_cause' must be defined")
    fed = {r for c in causes for r in c.requires} | {o.factor for c in causes for o in c.odds_ratios}
    unused = sorted(rf_names - fed)
    if unused:
        raise rf_reader.fail(f"risk factor(s) {unused}", "feed no cause (add an odds ratio or a requires)")

    # findings
    finding_reader = _Reader(directory / "findings.toml", scales)
    findings = []
    for record in finding_reader.records("finding"):
        name = finding_reader.text(record, "name", "[[finding]]")
        where = f"finding {name!r}"
        kind = finding_reader.text(record, "kind", where)
        if kind not in FINDING_KINDS:
            raise finding_reader.fail(where, f"kind must be one of {FINDING_KINDS}, got {kind!r}")
        states = finding_reader.names(record, "states", where)
        if kind == "categorical" and len(states) != 2:
            raise finding_reader.fail(where, "a categorical finding has exactly two states (first = unit on)")
        if kind == "side" and states != SIDE_STATES:
            raise finding_reader.fail(where, f"the side finding has states {SIDE_STATES}")
        if kind == "binary" and states:
            raise finding_reader.fail(where, "a binary finding has no 'states'")
        findings.append(
            Finding(
                name=name,
                label=finding_reader.text(record, "label", where),
                group=finding_reader.text(record, "group", where),
                kind=kind,
                gated=finding_reader.flag(record, "gated", where),
                leak=finding_reader.number(record, "leak", where),
                states=states,
            )
        )
    _unique(finding_reader, [f.name for f in findings], "finding")
    if [f.name for f in findings if f.kind == "side"] != ["numbness_side"]:
        raise finding_reader.fail("[[finding]]", "exactly one side finding, 'numbness_side', is required")
    finding_by_name = {f.name: f for f in findings}
    clash = sorted((rf_names | cause_names | {"age", "sex", "leg_numbness"}) & set(finding_by_name))
    if clash:
        raise finding_reader.fail(f"finding(s) {clash}", "name clashes with a risk factor, cause or context variable")

    # links
    links: list[Link] = []
    sides: list[SideLink] = []
    link_files = sorted((directory / "links").glob("*.toml"))
    if not link_files:
        raise PriorsError(f"links/: no *.toml files in {directory / 'links'}")
    for path in link_files:
        reader = _Reader(path, scales)
        for record in reader.records("link", required=False):
            cause = reader.text(record, "cause", "[[link]]")
            finding = reader.text(record, "finding", f"link of {cause!r}")
            where = f"link {cause!r} -> {finding!r}"
            if cause not in cause_names:
                raise reader.fail(where, f"unknown cause {cause!r}")
            if finding not in finding_by_name:
                raise reader.fail(where, f"unknown finding {finding!r}")
            if finding_by_name[finding].kind == "side":
                raise reader.fail(where, "the link to numbness_side is a [[side]] record")
            links.append(Link(cause, finding, reader.number(record, "p", where)))
        for record in reader.records("side", required=False):
            cause = reader.text(record, "cause", "[[side]]")
            where = f"side link of {cause!r}"
            if cause not in cause_names:
                raise reader.fail(where, f"unknown cause {cause!r}")
            sides.append(SideLink(cause, reader.number(record, "p", where), reader.number(record, "unilateral", where)))
    seen_links: set[tuple[str, str]] = set()
    for link in links:
        key = (link.cause, link.finding)
        if key in seen_links:
            raise PriorsError(f"links/: {link.p.where}: link defined twice")
        seen_links.add(key)
    side_causes = [s.cause for s in sides]
    missing_side = sorted(cause_names - set(side_causes))
    if missing_side or len(side_causes) != len(set(side_causes)):
        raise PriorsError(f"links/: every cause needs exactly one [[side]] record; missing {missing_side}")

    actions = _load_actions(directory / "actions.toml", scales, cause_names, finding_by_name)
    constraints = _load_constraints(directory / "constraints.toml", scales, cause_names)

    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.toml")):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")

    return KnowledgeBase(
        directory=directory,
        digest=digest.hexdigest(),
        scales=scales,
        age_bands=age_bands,
        age_lower_bounds=tuple(float(b) for b in bounds),
        age_prior=age_prior,
        sex_states=sex_states,
        sex_prior=sex_prior,
        risk_factors=tuple(risk_factors),
        causes=tuple(causes),
        findings=tuple(findings),
        links=tuple(links),
        sides=tuple(sides),
        actions=actions,
        constraints=constraints,
    )


def _load_actions(
    path: Path, scales: Mapping[str, Number], cause_names: set[str], findings: Mapping[str, Finding]
) -> dict[str, Any]:
    reader = _Reader(path, scales)
    actions: dict[str, Any] = {}
    specialists = []
    for record in reader.records("specialist"):
        name = reader.text(record, "name", "[[specialist]]")
        where = f"specialist {name!r}"
        specialists.append(
            {"name": name, "label": reader.text(record, "label", where), "provenance": reader.provenance(record, where)}
        )
    _unique(reader, [s["name"] for s in specialists], "specialist")
    known = {s["name"] for s in specialists}
    actions["specialist"] = specialists
    per_cause = []
    for record in reader.records("cause_specialists"):
        cause = reader.text(record, "cause", "[[cause_specialists]]")
        where = f"specialists of {cause!r}"
        if cause not in cause_names:
            raise reader.fail(where, f"unknown cause {cause!r}")
        names = reader.names(record, "specialists", where)
        if not names or set(names) - known:
            raise reader.fail(where, f"specialists must be a non-empty list of {sorted(known)}")
        per_cause.append({"cause": cause, "specialists": names, "provenance": reader.provenance(record, where)})
    _unique(reader, [c["cause"] for c in per_cause], "cause_specialists for")
    missing = sorted(cause_names - {c["cause"] for c in per_cause})
    if missing:
        raise reader.fail("[[cause_specialists]]", f"no specialists for cause(s) {missing}")
    actions["cause_specialists"] = per_cause
    signs = []
    for record in reader.records("urgent_sign"):
        name = reader.text(record, "name", "[[urgent_sign]]")
        where = f"urgent sign {name!r}"
        level = reader.text(record, "level", where)
        if level not in ("emergency", "urgent", "neurologist"):
            raise reader.fail(where, f"level must be emergency, urgent or neurologist, got {level!r}")
        sign_findings = reader.names(record, "findings", where)
        unknown = sorted(set(sign_findings) - set(findings) - {"leg_numbness"})
        if unknown:
            raise reader.fail(where, f"unknown finding(s) {unknown}")
        match = record.get("match", "any")
        if match not in ("any", "all"):
            raise reader.fail(where, f"match must be 'any' or 'all', got {match!r}")
        signs.append(
            {
                "name": name,
                "level": level,
                "findings": sign_findings,
                "match": match,
                "provenance": reader.provenance(record, where),
            }
        )
    actions["urgent_sign"] = signs
    tests = []
    for record in reader.records("test"):
        finding = reader.text(record, "finding", "[[test]]")
        where = f"test {finding!r}"
        if finding not in findings or findings[finding].group != "test":
            raise reader.fail(where, f"{finding!r} is not a test finding of findings.toml")
        tier = reader.text(record, "tier", where)
        if tier not in TEST_TIERS:
            raise reader.fail(where, f"tier must be one of {TEST_TIERS}, got {tier!r}")
        tests.append(
            {
                "finding": finding,
                "label": reader.text(record, "label", where),
                "tier": tier,
                "provenance": reader.provenance(record, where),
            }
        )
    actions["test"] = tests
    return actions


def _load_constraints(path: Path, scales: Mapping[str, Number], cause_names: set[str]) -> tuple[dict[str, Any], ...]:
    reader = _Reader(path, scales)
    constraints = []
    for i, record in enumerate(reader.records("constraint")):
        kind = reader.text(record, "kind", f"constraint #{i + 1}")
        where = f"constraint #{i + 1} ({kind})"
        if kind not in ("top", "top_n", "greater", "group_top"):
            raise reader.fail(where, f"kind must be top, top_n, greater or group_top, got {kind!r}")
        for key in ("cause", "than"):
            if key in record and record[key] not in cause_names:
                raise reader.fail(where, f"unknown cause {record[key]!r}")
        if kind in ("top", "top_n", "greater") and "cause" not in record:
            raise reader.fail(where, "needs a 'cause'")
        if kind == "greater" and "than" not in record:
            raise reader.fail(where, "needs 'than'")
        if kind == "top_n" and not isinstance(record.get("n"), int):
            raise reader.fail(where, "needs an integer 'n'")
        if kind == "group_top":
            members = record.get("members")
            if members is None and record.get("group") not in CAUSE_GROUPS:
                raise reader.fail(where, f"group must be one of {CAUSE_GROUPS}, or come with 'members'")
            if members is not None and (not isinstance(members, list) or not members or set(members) - cause_names):
                raise reader.fail(where, "members must be a non-empty list of cause names")
        evidence = record.get("evidence", {})
        if not isinstance(evidence, dict):
            raise reader.fail(where, "evidence must be a table")
        constraints.append({**record, "evidence": evidence, "provenance": reader.provenance(record, where)})
    return tuple(constraints)
