"""The result of :func:`numbdx.infer`: a ranked differential, never a diagnosis."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ._display import fallback_html
from ._exceptions import NumbdxError

if TYPE_CHECKING:
    import pandas as pd

    from ._triage import SpecialistAdvice, Triage

RESULT_FORMAT = "numbdx.differential/2"
READABLE_FORMATS = ("numbdx.differential/1", RESULT_FORMAT)  # /1 had no triage or specialists
REPR_AUTO_POSITIVES = 3  # the notebook view computes next questions, tests and explanations up to this
DISCLAIMER = (
    "A ranking of possible causes for a clinician or a triage service, not a diagnosis. "
    "Red-flag causes are listed whatever their probability."
)


@dataclass(frozen=True)
class CauseResult:
    """One cause of the differential.

    Attributes
    ----------
    explains : float
        P(the cause is present *and produces the leg numbness* | evidence): what the ranking uses.
    posterior : float
        P(the cause is present | evidence), whether or not it is behind the numbness.
    prior : float
        P(the cause is present | the context and risk factors in the evidence only).
    """

    name: str
    label: str
    group: str
    explains: float
    posterior: float
    prior: float
    red_flag: bool

    @property
    def likelihood_ratio(self) -> float:
        """Posterior odds over prior odds: how much the findings moved this cause (inf if prior is 0)."""

        def odds(p: float) -> float:
            return math.inf if p >= 1 else p / (1 - p)

        prior_odds = odds(self.prior)
        return math.nan if prior_odds == 0 else odds(self.posterior) / prior_odds


class Differential:
    """Every cause given the evidence, ranked by the probability that it produces the leg numbness.

    Several causes can be present, and produce the numbness, at once, so neither ``explains`` nor
    ``posterior`` sums to one. A common condition that is present but does not explain the numbness
    (varicose veins in someone with a herniated disc) keeps a high ``posterior`` but ranks low. When
    the evidence says there is no leg numbness, ``explains`` is zero and the ranking uses ``posterior``.

    Attributes
    ----------
    causes : tuple of CauseResult
        Every cause, highest ``explains`` first, then highest ``posterior``, then by name.
    evidence : dict
        The normalised evidence the answer is conditioned on, including assumptions.
    assumed : tuple of str
        Evidence the answer assumed (``leg_numbness`` unless the evidence gave it).
    model_identity : dict
        ``package_version`` and ``priors_sha256`` of the model that answered.
    method : str
        How the answer was computed: ``"exact"`` (Quickscore with exact elimination, or for many
        positive findings the same sum eliminated over the findings' choices; both within
        ``error_bound`` of the model's probabilities) or ``"importance_sampling"`` (past the exact
        limit; see :func:`numbdx.infer`).
    error_bound : float
        Bound on the absolute error of any probability: rounding for ``"exact"``; four standard errors
        of the estimate for ``"importance_sampling"``.
    triage : Triage or None
        How urgently to seek care, with its reasons and their sources (see :func:`numbdx.triage`);
        set by :func:`numbdx.infer`.
    specialists : tuple of SpecialistAdvice
        Specialists ranked by the share of the probability mass their causes hold.
    """

    def __init__(
        self,
        causes: Sequence[CauseResult],
        *,
        evidence: Mapping[str, Any],
        assumed: Sequence[str],
        model_identity: Mapping[str, str],
        method: str = "exact",
        error_bound: float = 0.0,
        triage: Triage | None = None,
        specialists: Sequence[SpecialistAdvice] = (),
    ) -> None:
        self.causes = tuple(sorted(causes, key=lambda c: (-c.explains, -c.posterior, c.name)))
        self.evidence = dict(evidence)
        self.assumed = tuple(assumed)
        self.model_identity = dict(model_identity)
        self.method = method
        self.error_bound = float(error_bound)
        self.triage = triage
        self.specialists = tuple(specialists)
        self._by_name = {c.name: c for c in self.causes}

    def with_decisions(self, triage: Triage | None, specialists: Sequence[SpecialistAdvice]) -> Differential:
        """This differential with its triage and specialists attached (the causes not re-sorted)."""
        attached = copy.copy(self)
        attached.evidence, attached.model_identity = dict(self.evidence), dict(self.model_identity)
        attached.triage = triage
        attached.specialists = tuple(specialists)
        return attached

    def __getitem__(self, name: str) -> CauseResult:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no cause named {name!r} in this differential") from None

    def __iter__(self) -> Iterator[CauseResult]:
        return iter(self.causes)

    def __len__(self) -> int:
        return len(self.causes)

    def top(self, n: int = 5) -> list[CauseResult]:
        """The ``n`` causes with the highest posterior."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        return list(self.causes[:n])

    def rank(self, name: str) -> int:
        """1-based rank of cause ``name`` (1 = most likely to produce the numbness)."""
        return self.causes.index(self[name]) + 1

    def posteriors(self) -> dict[str, float]:
        """Cause name -> posterior, in rank order."""
        return {c.name: c.posterior for c in self.causes}

    @property
    def red_flags(self) -> list[CauseResult]:
        """Red-flag causes (stroke, thrombosis, limb ischaemia ...), listed whatever their posterior."""
        return [c for c in self.causes if c.red_flag]

    def to_frame(self) -> pd.DataFrame:
        """One row per cause: rank, label, group, explains, posterior, prior, likelihood ratio, red flag."""
        import pandas as pd

        rows = [{"rank": i + 1, **asdict(c), "likelihood_ratio": c.likelihood_ratio} for i, c in enumerate(self.causes)]
        return pd.DataFrame(rows).set_index("name")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready types; :meth:`from_dict` is the inverse."""
        return {
            "format": RESULT_FORMAT,
            "causes": [asdict(c) for c in self.causes],
            "evidence": dict(self.evidence),
            "assumed": list(self.assumed),
            "model": dict(self.model_identity),
            "method": self.method,
            "error_bound": self.error_bound,
            "triage": None if self.triage is None else self.triage.to_dict(),
            "specialists": [s.to_dict() for s in self.specialists],
            "disclaimer": DISCLAIMER,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Differential:
        """Rebuild a differential from :meth:`to_dict` output."""
        from ._triage import SpecialistAdvice, SpecialistCause, Triage, TriageReason

        if not isinstance(data, Mapping) or data.get("format") not in READABLE_FORMATS:
            raise NumbdxError(f"not a numbdx differential of a format in {READABLE_FORMATS}")
        try:
            causes = [CauseResult(**c) for c in data["causes"]]
            triage = data.get("triage")
            if triage is not None:
                triage = Triage(
                    level=triage["level"],
                    reasons=tuple(TriageReason(**r) for r in triage["reasons"]),
                    red_flag_findings=tuple(triage["red_flag_findings"]),
                    advice=triage["advice"],
                )
            specialists = tuple(
                SpecialistAdvice(**{**s, "causes": tuple(SpecialistCause(**c) for c in s["causes"])})
                for s in data.get("specialists", ())
            )
            return cls(
                causes,
                evidence=data["evidence"],
                assumed=data["assumed"],
                model_identity=data["model"],
                method=data["method"],
                error_bound=data["error_bound"],
                triage=triage,
                specialists=specialists,
            )
        except (KeyError, TypeError) as exc:
            raise NumbdxError(f"malformed differential: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Differential) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        def row(mark: str, c: CauseResult) -> str:
            flag = "  RED FLAG" if c.red_flag else ""
            numbers = f"explains {c.explains:7.2%}  present {c.posterior:7.2%}  prior {c.prior:7.2%}"
            return f"  {mark:>3} {c.name:<28} {numbers}{flag}"

        how = self.method if self.method == "exact" else f"{self.method}, every probability +-{self.error_bound:.3f}"
        lines = [f"<numbdx.Differential: {len(self.causes)} causes, method={how}>"]
        if self.triage is not None:
            lines.append(f"  TRIAGE: {self.triage.level.upper().replace('_', '-')}. {self.triage.advice}")
            lines += [f"    - {r.text}" for r in self.triage.reasons]
        lines += [row(f"{i}.", c) for i, c in enumerate(self.causes[:8], 1)]
        lines += [row("-", c) for c in self.causes[8:] if c.red_flag]  # red flags are never hidden
        if self.assumed:
            lines.append(f"  assumed: {', '.join(f'{a}=True' for a in self.assumed)}")
        if self.specialists:
            lines.append("  specialists: " + ", ".join(f"{s.label} {s.share:.0%}" for s in self.specialists[:3]))
        lines.append(f"  {DISCLAIMER}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        # The view lives in _html. A repr must never raise in a notebook: any failure there, or in
        # importing it, falls back to the plain repr, and past that to object's.
        try:
            from ._html import differential_html

            return str(differential_html(self, **self._light_extras()))
        except Exception:
            return fallback_html(self)

    def _light_extras(self) -> dict[str, Any]:
        """Next questions, tests and explanations (top five causes) for the notebook view, computed only
        when cheap: the shipped model gave this answer and the evidence has at most
        ``REPR_AUTO_POSITIVES`` positive findings (measured: tens of milliseconds). Otherwise, or if
        anything fails, none: the view then says how to ask for them (:meth:`to_html`)."""
        try:
            from ._api import load_model
            from ._explain import explain
            from ._voi import next_questions, recommend_tests

            model = load_model()
            if dict(model.identity) != self.model_identity:
                return {}
            findings = {f.name for f in model.findings} - {"numbness_side"}
            positives = sum(1 for k, v in self.evidence.items() if k in findings and v is True)
            if positives > REPR_AUTO_POSITIVES:
                return {}
            top = [c.name for c in self.causes[:5]]
            return {
                "questions": next_questions(self.evidence, model=model),
                "tests": recommend_tests(self.evidence, model=model),
                "explanation": explain(model, self.evidence, causes=top),
            }
        except Exception:
            return {}

    def to_html(self, *, tests: Any = None, questions: Any = None, explanation: Any = None, n: int = 10) -> str:
        """The notebook view with what a repr does not compute: the results of
        :func:`numbdx.recommend_tests`, :func:`numbdx.next_questions` and :func:`numbdx.explain` on the
        same evidence, shown below the table and in each cause's details."""
        from ._html import differential_html

        return str(differential_html(self, tests=tests, questions=questions, explanation=explanation, n=n))

    def plot(self, ax: Any = None, *, n: int = 10) -> Any:
        """Bar chart of the top ``n`` causes and every red flag: prior, present and explains side by side.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            The axes to draw on; a new figure by default.
        n : int
            Causes shown in rank order; red-flag causes ranked below are added, marked, whatever their
            probability.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ImportError
            matplotlib is not installed: ``pip install "numbdx[plot]"``.
        """
        from ._plot import plot_differential

        return plot_differential(self, ax, n=n)
