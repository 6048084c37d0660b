"""Shared hypothesis strategies (one place, as in attrs' tests/strategies.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

import numbdx
from numbdx._engine import Codes, codes_from_evidence
from numbdx._evidence import normalise
from numbdx._exceptions import ImpossibleEvidenceError
from numbdx._model import CHIEF_COMPLAINT, Model

# Sub-models of the real model small enough for brute force, pgmpy VE and pyAgrum: a few causes
# with their real risk factors and findings (other_cause is always kept).
SUBMODEL_CAUSES = (
    ("pregnancy_compression", "stroke", "tight_shoe_compression"),
    ("mortons_neuroma", "heel_spur_fasciitis", "diabetic_neuropathy"),
    ("thrombosis", "raynauds_disease", "positional_compression"),
    ("lumbosacral_osteochondrosis", "lumbar_disc_herniation", "multiple_sclerosis"),
    ("atherosclerosis", "endarteritis", "vitamin_deficiency"),
)


def finding_value(model: Model, name: str) -> st.SearchStrategy[Any]:
    """A valid value for finding ``name``."""
    f = model.findings[model.finding_index[name]]
    return st.booleans() if f.kind == "binary" else st.sampled_from(f.states)


def evidence(
    model: Model | None = None,
    *,
    max_findings: int = 6,
    max_risk_factors: int = 4,
    chief: bool | None = True,
) -> st.SearchStrategy[dict[str, Any]]:
    """Evidence dictionaries valid for ``model`` (the shipped model by default).

    ``chief=True`` leaves the chief complaint to be assumed; ``None`` draws it too (False drops gated
    findings, which would be impossible).
    """
    model = model if model is not None else numbdx.load_model()
    finding_names = [f.name for f in model.findings]
    rf_names = [v.name for v in model.upper[2:]]

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if draw(st.booleans()):
            out["age"] = draw(st.integers(0, 100) | st.floats(0, 130, allow_nan=False))
        if draw(st.booleans()):
            out["sex"] = draw(st.sampled_from(["female", "male"]))
        for name in draw(st.lists(st.sampled_from(rf_names), max_size=max_risk_factors, unique=True)):
            value = draw(st.booleans())
            if name == "pregnancy" and value:
                # only where possible: a woman of childbearing age
                out.update(sex="female", age=draw(st.integers(15, 49)))
            out[name] = value
        names = draw(st.lists(st.sampled_from(finding_names), max_size=max_findings, unique=True))
        chief_value = True if chief else draw(st.booleans()) if chief is None else False
        if chief is not True:
            out[CHIEF_COMPLAINT] = chief_value
        for name in names:
            f = model.findings[model.finding_index[name]]
            if not chief_value and (f.gated or f.kind == "side"):
                continue
            out[name] = draw(finding_value(model, name))
        return out

    return build()


def submodel_and_evidence(max_findings: int = 5) -> st.SearchStrategy[tuple[Model, dict[str, Any]]]:
    """A real sub-model with evidence drawn for it."""
    full = numbdx.load_model()
    submodels = [full.submodel(causes) for causes in SUBMODEL_CAUSES]
    return st.sampled_from(submodels).flatmap(
        lambda m: st.tuples(st.just(m), evidence(m, max_findings=max_findings, chief=None))
    )


def many_positives(min_positives: int, max_positives: int) -> st.SearchStrategy[dict[str, Any]]:
    """Evidence on the shipped model with between ``min_positives`` and ``max_positives`` positive
    binary findings (the regime where exact inference grows expensive), a context and a few negatives."""
    model = numbdx.load_model()
    binary = sorted(f.name for f in model.findings if f.kind == "binary")

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        names = draw(st.lists(st.sampled_from(binary), min_size=min_positives, max_size=max_positives, unique=True))
        negatives = draw(st.lists(st.sampled_from(sorted(set(binary) - set(names))), max_size=3, unique=True))
        out: dict[str, Any] = {"age": draw(st.integers(20, 90)), "sex": draw(st.sampled_from(["female", "male"]))}
        return {**out, **dict.fromkeys(names, True), **dict.fromkeys(negatives, False)}

    return build()


def possible_codes(model: Model, evidence_rows: list[dict[str, Any]]) -> Codes | None:
    """The engine's codes for the drawn rows that are possible (drawn evidence can contradict the
    model's constraints), or None if none is."""
    rows = []
    for ev in evidence_rows:
        try:
            rows.append(normalise(model, ev))
        except ImpossibleEvidenceError:
            pass
    return codes_from_evidence(model, rows) if rows else None
