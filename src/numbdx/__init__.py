"""numbdx: Bayesian differential diagnosis of numbness in the legs, feet and heels.

numbdx ranks possible causes for a clinician or a triage service; it never states a diagnosis.

>>> import numbdx
>>> differential = numbdx.infer({"age": 30, "sex": "female", "pregnancy": True, "numb_heel": True})
>>> differential.top(3)  # doctest: +SKIP
"""

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
from ._explain import CauseExplanation, EvidenceWeight, Explanation
from ._frame import infer_frame
from ._model import Model
from ._result import CauseResult, Differential
from ._schema import evidence_schema, result_schema
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


def __getattr__(name: str) -> object:
    # the HTTP service needs the `service` extra (fastapi, uvicorn): imported only when asked for
    if name in ("create_app", "serve"):
        from . import _service

        return getattr(_service, name)
    raise AttributeError(f"module 'numbdx' has no attribute {name!r}")
