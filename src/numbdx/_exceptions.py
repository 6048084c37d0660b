"""The exception hierarchy: every error numbdx raises on purpose derives from :class:`NumbdxError`."""

from __future__ import annotations

__all__ = [
    "EvidenceError",
    "ImpossibleEvidenceError",
    "InferenceLimitError",
    "InvalidEvidenceValueError",
    "NumbdxError",
    "PriorsError",
    "UnknownCauseError",
    "UnknownEvidenceError",
]


class NumbdxError(Exception):
    """Base class of every error numbdx raises on purpose."""


class PriorsError(NumbdxError):
    """A knowledge-base file is missing or malformed; the message names the file, record and problem."""


class EvidenceError(NumbdxError, ValueError):
    """The evidence given to :func:`numbdx.infer` cannot be answered as it stands."""


class _UnknownName(KeyError):
    """A name that is not one of the model's; ``suggestions`` holds the closest valid names. Listed
    first among a subclass's bases, so its ``__init__`` comes before ``ValueError``'s."""

    what = "name"
    where = ""

    def __init__(self, name: object, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {self.what} {name!r}{hint} (see {self.where})")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class UnknownEvidenceError(_UnknownName, EvidenceError):
    """An evidence name is not in the vocabulary; ``suggestions`` holds the closest valid names."""

    what, where = "evidence name", "numbdx.vocabulary()"


class InvalidEvidenceValueError(EvidenceError, TypeError):
    """An evidence value has the wrong type, is NaN, or is not one of the variable's states."""


class ImpossibleEvidenceError(EvidenceError):
    """The model gives the evidence probability zero (for example pregnancy in a male)."""


class InferenceLimitError(NumbdxError):
    """The evidence needs more exact-inference work than numbdx will do in one call."""


class UnknownCauseError(_UnknownName, NumbdxError):
    """A cause name is not in the model; ``suggestions`` holds the closest valid names."""

    what, where = "cause", "Model.cause_names"
