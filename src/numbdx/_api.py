"""The convenience functions over a loaded model: ``numbdx.infer()``, ``load_model()``, ``vocabulary()``."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ._engine import Answer, LeftOut, infer_exact
from ._evidence import Evidence, normalise
from ._model import Model, build_model
from ._result import CauseResult, Differential

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from ._explain import Explanation

_default_model: Model | None = None
_default_lock = threading.Lock()


def load_model(priors: str | Path | None = None) -> Model:
    """Load, validate and compile the knowledge base.

    Parameters
    ----------
    priors
        A ``priors`` folder to load instead of the one shipped with numbdx. Without it, the shipped
        model is loaded once per process and shared (it is immutable).

    Raises
    ------
    PriorsError
        A knowledge-base file is missing or malformed; the message names the file, record and problem.
    """
    global _default_model
    if priors is not None:
        return build_model(priors)
    with _default_lock:
        if _default_model is None:
            _default_model = build_model()
        return _default_model


def infer(
    evidence: Mapping[str, Any] | None = None,
    *,
    model: Model | None = None,
    method: Literal["auto", "exact", "sampling"] = "auto",
) -> Differential:
    """Posterior probability of every cause of leg, foot or heel numbness given ``evidence``.

    Parameters
    ----------
    evidence
        Names from :func:`vocabulary` mapped to values: ``True``/``False`` for present/absent, a state
        name for categorical findings (``numbness_side="left"``), a number of years for ``age``.
        Missing keys (or ``None``) are unknown. ``leg_numbness`` (the chief complaint) is assumed
        ``True`` unless given.
    model
        The model to use; the shipped model by default.
    method
        ``"auto"`` (default): exact (Quickscore with exact elimination of the risk factors, with a
        bound on rounding error) whenever the evidence allows it, which is up to about 12 positive
        findings of more than one term each (with the ``numba`` extra, up to 65,536 terms: 16
        positives expanded with signs, more where some have at most one cause);
        past that, importance sampling with a 4-standard-error bound on every probability (see the
        README). ``"exact"``: raise :class:`InferenceLimitError` instead of sampling.
        ``"sampling"``: sample whenever the evidence has a positive finding (to compare with the exact
        answer; without one, the exact answer is a single term and is used). The result's ``method``
        and ``error_bound`` say which method answered and how far off it can be.

    Returns
    -------
    Differential
        Every cause with its posterior and its prior given the context, ranked.

    Raises
    ------
    UnknownEvidenceError
        An evidence name is not in the vocabulary (the closest valid names are suggested).
    InvalidEvidenceValueError
        A value has the wrong type, is NaN, or is not a state of its variable.
    ImpossibleEvidenceError
        The model gives the evidence probability zero.
    InferenceLimitError
        The evidence has too many positive findings for exact inference (``method="exact"``), or
        even sampling cannot bound the error to 0.05.
    ValueError
        ``method`` is not one of the three above.

    Examples
    --------
    >>> import numbdx
    >>> d = numbdx.infer({"age": 67, "sex": "male", "smoking": True, "pain_worse_walking": True})
    >>> d.top(1)[0].name in d.posteriors()
    True
    """
    from ._triage import left_out_request, specialists, triage

    model = model if model is not None else load_model()
    ev = normalise(model, {} if evidence is None else evidence)
    # the triage re-checks its thresholds with red-flag findings left out: where the answer's own
    # elimination can make those (many positives, on the kernels), it does, at a fraction of the cost
    # of a second elimination
    request = left_out_request(model, ev.values)
    bare, answer = _differential_of(model, ev, method, None if request is None else request[1])
    left_out = None if request is None or answer.left_out is None else dict(zip(request[0], answer.left_out))
    return bare.with_decisions(triage(model, bare, left_out), specialists(model, bare))


def _differential(model: Model, evidence: Mapping[str, Any] | None, method: str = "auto") -> Differential:
    """The ranked causes alone, without triage (which itself infers on reduced evidence)."""
    return _differential_of(model, normalise(model, {} if evidence is None else evidence), method)[0]


def _differential_of(
    model: Model, ev: Evidence, method: str, left_out: LeftOut | None = None
) -> tuple[Differential, Answer]:
    """:func:`_differential` of normalised evidence, and the engine's answer (``left_out``: see
    ``_engine.infer_codes``)."""
    answer = infer_exact(model, ev, method=method, left_out=left_out)
    explains, posterior, prior = (a[0].tolist() for a in (answer.explains, answer.posterior, answer.prior))
    causes = [
        CauseResult(
            name=c.name,
            label=c.label,
            group=c.group,
            explains=explains[i],
            posterior=posterior[i],
            prior=prior[i],
            red_flag=c.red_flag,
        )
        for i, c in enumerate(model.causes)
    ]
    differential = Differential(
        causes,
        evidence=ev.values,
        assumed=ev.assumed,
        model_identity=model.identity,
        method=str(answer.method[0]),
        error_bound=float(answer.error_bound[0]),
    )
    return differential, answer


def vocabulary(model: Model | None = None) -> pd.DataFrame:
    """Every evidence name ``infer`` accepts, with its kind, states and a plain-language description."""
    return (model if model is not None else load_model()).vocabulary()


def explain(
    evidence: Mapping[str, Any] | None = None,
    *,
    model: Model | None = None,
    causes: str | Iterable[str] | None = None,
    quantity: Literal["explains", "posterior"] = "explains",
    include_assumed: bool = True,
) -> Explanation:
    """Why each cause ranks where it does: every evidence item's weight for or against it.

    The weight of item ``i`` for cause ``c`` is ``logit P(c | e) - logit P(c | e without i)`` (natural
    log), with ``P`` the ``quantity`` (``explains`` by default: P(present and producing the numbness)).
    Weights are signed and ranked by size; ``+inf``/``-inf`` when the item alone makes the cause
    certain or impossible. See :class:`Explanation` for the full definition and edge cases.

    Parameters
    ----------
    evidence
        As for :func:`infer`.
    model
        The model; the shipped one by default.
    causes
        One cause name or several; every cause of the differential, in its rank order, by default.
    quantity
        ``"explains"`` or ``"posterior"``.
    include_assumed
        Weigh the assumed chief complaint too (marked ``assumed``).

    Raises
    ------
    UnknownCauseError
        A name in ``causes`` is not a cause of the model (close names are suggested).
    ValueError
        ``quantity`` is not one of the two above.

    Examples
    --------
    >>> import numbdx
    >>> why = numbdx.explain({"age": 67, "smoking": True, "pain_worse_walking": True}, causes="atherosclerosis")
    >>> why["atherosclerosis"].weights[0].item in {"age", "smoking", "pain_worse_walking", "leg_numbness"}
    True
    """
    from ._explain import explain as _explain

    return _explain(model, evidence, causes=causes, quantity=quantity, include_assumed=include_assumed)
