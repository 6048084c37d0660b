"""A notebook companion for an interview: answers in, differential and next questions out.

:class:`Session` keeps the evidence gathered so far and validates each answer as it is given, so a
typo or an impossible answer is caught at once and leaves the session as it was. It is a thin layer over
the stateless functions (:func:`numbdx.infer`, :func:`next_questions`, :func:`recommend_tests`), which
services should call directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._api import infer, load_model
from ._display import fallback_html
from ._evidence import normalise
from ._exceptions import InvalidEvidenceValueError
from ._model import CHIEF_COMPLAINT, Model
from ._result import Differential
from ._voi import NextQuestions, TestRecommendation, next_questions, recommend_tests

__all__ = ["Session"]

_MISSING: Any = object()
_REPR_ANSWERS = 12  # answers shown in the repr before "... more"
_REPR_CAUSES = 5


class Session:
    """The evidence of one interview, validated answer by answer.

    Parameters
    ----------
    model
        The model; the shipped one by default.
    evidence
        Evidence to start from (validated like an answer; its items start the history, in order).

    Examples
    --------
    >>> s = Session()
    >>> s.answer("numb_heel", True)  # doctest: +ELLIPSIS
    <numbdx.Session: 1 answer ...>
    >>> s.answer(age=45, sex="female").next_questions(3).names()  # doctest: +SKIP
    ['...', '...', '...']

    Notes
    -----
    Every answer is validated against the vocabulary and the model before it is kept: an unknown name
    (:class:`~numbdx.UnknownEvidenceError`), a wrong value (:class:`~numbdx.InvalidEvidenceValueError`),
    evidence the model rules out (:class:`~numbdx.ImpossibleEvidenceError`) or evidence past the
    inference limits raise, and the session is left unchanged. ``None`` is not an answer: use
    :meth:`forget`.
    """

    def __init__(self, model: Model | None = None, evidence: Mapping[str, Any] | None = None) -> None:
        self._model = model if model is not None else load_model()
        self._evidence: dict[str, Any] = {}
        self._differential: Differential | None = None
        if evidence is None:
            evidence = {}
        if not isinstance(evidence, Mapping):
            raise InvalidEvidenceValueError(
                f"evidence must be a mapping from names to values, got {type(evidence).__name__}"
            )
        self._apply(dict(evidence), ())

    # --- changing the evidence ----------------------------------------------------------------------
    def answer(self, name: str = _MISSING, value: Any = _MISSING, /, **answers: Any) -> Session:
        """Record answers: ``answer("numb_heel", True)`` or ``answer(numb_heel=True, age=45)``.

        All the answers are validated together and kept together, or none is. Answering a name again
        replaces its value (and moves it to the end of the history).

        Returns
        -------
        Session
            ``self``, to chain calls.

        Raises
        ------
        UnknownEvidenceError, InvalidEvidenceValueError, ImpossibleEvidenceError, InferenceLimitError
            The session is unchanged.
        TypeError
            Nothing to answer, a name without a value, or a name given twice.
        """
        updates: dict[str, Any] = {}
        if name is not _MISSING:
            if value is _MISSING:
                raise TypeError(f"answer({name!r}) needs a value: answer(name, value)")
            if isinstance(name, str) and name in answers:
                raise TypeError(f"{name!r} given twice")
            updates[name] = value
        elif value is not _MISSING:
            raise TypeError("answer(name, value) needs a name")
        updates.update(answers)
        if not updates:
            raise TypeError("nothing to answer: answer(name, value) or answer(name=value, ...)")
        for key, v in updates.items():
            if v is None:
                normalise(self._model, {key: None})  # an unknown name is reported as such
                raise InvalidEvidenceValueError(f"None is not an answer for {key!r}; use forget({key!r})")
        self._apply(updates, ())
        return self

    def forget(self, *names: str) -> Session:
        """Make ``names`` unknown again (a name not answered is ignored).

        Raises
        ------
        UnknownEvidenceError
            A name is not in the vocabulary (the session is unchanged).
        ImpossibleEvidenceError
            Without the answer the rest would be impossible (the session is unchanged); possible only
            with ``leg_numbness``, which is assumed present once forgotten.
        """
        normalise(self._model, dict.fromkeys(names))  # unknown names raise, with suggestions
        self._apply({}, names)
        return self

    def _apply(self, updates: Mapping[str, Any], forget: tuple[str, ...]) -> None:
        """Validate the new evidence completely, then commit it (or raise, changing nothing)."""
        evidence = {k: v for k, v in self._evidence.items() if k not in updates and k not in forget}
        evidence.update(updates)
        differential = infer(evidence, model=self._model)  # validates names, values and possibility
        self._evidence, self._differential = evidence, differential

    # --- reading ------------------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        """The model the session uses."""
        return self._model

    @property
    def evidence(self) -> dict[str, Any]:
        """The answers so far, as given (a copy; ``leg_numbness`` is assumed unless answered)."""
        return dict(self._evidence)

    @property
    def history(self) -> tuple[tuple[str, Any], ...]:
        """``(name, value)`` of each current answer, in the order given."""
        return tuple(self._evidence.items())

    @property
    def differential(self) -> Differential:
        """The differential given the answers so far (:func:`numbdx.infer`)."""
        if self._differential is None:  # never: _apply sets it; kept for type checkers
            self._differential = infer(self._evidence, model=self._model)
        return self._differential

    def next_questions(self, n: int = 5, **options: Any) -> NextQuestions:
        """The ``n`` most valuable unanswered questions (:func:`numbdx.next_questions`; same options)."""
        return next_questions(self._evidence, n, model=self._model, **options)

    def recommend_tests(self, **options: Any) -> tuple[TestRecommendation, ...]:
        """Diagnostic tests ranked by value against cost (:func:`numbdx.recommend_tests`; same options)."""
        return recommend_tests(self._evidence, model=self._model, **options)

    # --- display ------------------------------------------------------------------------------------
    def _top(self) -> list[Any]:
        return self.differential.top(_REPR_CAUSES)

    def __repr__(self) -> str:
        try:
            n = len(self._evidence)
            shown = list(self._evidence.items())[:_REPR_ANSWERS]
            answers = ", ".join(f"{k}={v!r}" for k, v in shown)
            if n > _REPR_ANSWERS:
                answers += f", ... {n - _REPR_ANSWERS} more"
            assumed = "" if CHIEF_COMPLAINT in self._evidence else f" ({CHIEF_COMPLAINT}=True assumed)"
            top = ", ".join(f"{c.name} {c.explains:.1%}" for c in self._top()[:3])
            return (
                f"<numbdx.Session: {n} answer{'s' if n != 1 else ''}{assumed}"
                f"{': ' + answers if answers else ''}; top: {top}>"
            )
        except Exception:  # a repr must never raise
            return f"<numbdx.Session at {id(self):#x}>"

    def _repr_html_(self) -> str:
        try:
            from ._html import session_html

            return str(session_html(self))
        except Exception:  # a repr must never raise in a notebook
            return fallback_html(self)
