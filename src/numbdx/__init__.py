"""numbdx: Bayesian differential diagnosis of numbness in the legs, feet and heels.

numbdx ranks possible causes for a clinician or a triage service; it never states a diagnosis.

>>> import numbdx
>>> differential = numbdx.infer({"age": 30, "sex": "female", "pregnancy": True, "numb_heel": True})
>>> differential.top(3)  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from ._api import explain, infer, load_model, vocabulary
from ._exceptions import (
    EvidenceError,
    ImpossibleEvidenceError,
    InferenceLimitError,
    InvalidEvidenceValueError,
    NumbdxError,
    PriorsError,
    UnknownCauseError,
    UnknownEvidenceError,
)
from ._frame import infer_frame
from ._model import Model
from ._result import CauseResult, Differential

if TYPE_CHECKING:
    from ._explain import CauseExplanation, EvidenceWeight, Explanation
    from ._schema import evidence_schema, result_schema
    from ._service import create_app as create_app  # needs the `service` extra: not in __all__
    from ._service import serve as serve
    from ._session import Session
    from ._triage import SpecialistAdvice, Triage, TriageReason
    from ._uncertainty import CauseUncertainty, RankFlip, Sensitivity, Uncertainty, uncertainty
    from ._voi import (
        CRITERIA,
        AnswerOutcome,
        NextQuestions,
        QuestionValue,
        TestRecommendation,
        next_questions,
        recommend_tests,
        value_of_information,
    )

# The decision layer, schemas and service are imported on first use (PEP 562), so that
# `import numbdx` and a first `infer` stay quick: the cold start of a service or a script.
_LAZY = {
    "CauseExplanation": "_explain",
    "EvidenceWeight": "_explain",
    "Explanation": "_explain",
    "evidence_schema": "_schema",
    "result_schema": "_schema",
    "Session": "_session",
    "create_app": "_service",
    "serve": "_service",
    "SpecialistAdvice": "_triage",
    "Triage": "_triage",
    "TriageReason": "_triage",
    "CauseUncertainty": "_uncertainty",
    "RankFlip": "_uncertainty",
    "Sensitivity": "_uncertainty",
    "Uncertainty": "_uncertainty",
    "uncertainty": "_uncertainty",
    "CRITERIA": "_voi",
    "AnswerOutcome": "_voi",
    "NextQuestions": "_voi",
    "QuestionValue": "_voi",
    "TestRecommendation": "_voi",
    "next_questions": "_voi",
    "recommend_tests": "_voi",
    "value_of_information": "_voi",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'numbdx' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__version__ = "0.1.0"

__all__ = [
    "CRITERIA",
    "AnswerOutcome",
    "CauseExplanation",
    "CauseResult",
    "CauseUncertainty",
    "Differential",
    "EvidenceError",
    "EvidenceWeight",
    "Explanation",
    "ImpossibleEvidenceError",
    "InferenceLimitError",
    "InvalidEvidenceValueError",
    "Model",
    "NextQuestions",
    "NumbdxError",
    "PriorsError",
    "QuestionValue",
    "RankFlip",
    "Sensitivity",
    "Session",
    "SpecialistAdvice",
    "TestRecommendation",
    "Triage",
    "TriageReason",
    "Uncertainty",
    "UnknownCauseError",
    "UnknownEvidenceError",
    "__version__",
    "evidence_schema",
    "explain",
    "infer",
    "infer_frame",
    "load_model",
    "next_questions",
    "recommend_tests",
    "result_schema",
    "uncertainty",
    "value_of_information",
    "vocabulary",
]
