"""Past the exact limit: importance sampling over the cancellation-free expansion, with an error bound.

With every positive finding expanded as "fires first through cause j, or through its leak" (see
``_engine``), the evidence probability is a sum of non-negative terms, one per choice vector (a choice
for each positive): ``Z = sum_v coef(v) * Z(v)``, where ``Z(v)`` is exact (negatives, the side finding
and the risk-factor layer are summed out by the engine for each ``v``). The number of choice vectors
grows like the product of the positives' cause counts, so past ``MAX_TERMS`` the sum is estimated by
drawing choice vectors ``v ~ q`` (independent across positives) and weighting each by
``coef(v) Z(v) / q(v)``; every cause's joint ``P(cause, e)`` is estimated from the same draws, and the
posterior is the ratio (self-normalised importance sampling).

The proposal starts from a mean-field guess (each choice scored by its expected multiplier under the
exact posterior given the negatives and the side alone) and is adapted for a few rounds to the
weighted frequency of each choice (cross-entropy method), mixed with the initial guess so no choice
loses support. Estimates then use only draws from the final proposal, so they are consistent.

Error bound: ``BOUND_SE`` delta-method standard errors of the ratio, the largest over all causes,
reported with each answer. Sampling continues until the bound is at most ``TARGET_BOUND`` or
``MAX_SAMPLES`` draws; if the bound is then above ``MAX_BOUND``, or the draws are too few to trust
their own standard error (effective sample size under ``MIN_ESS``), the engine refuses. The seed is a
hash of the row's evidence, so the same evidence always gets the same numbers.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from ._exceptions import ImpossibleEvidenceError, InferenceLimitError
from ._model import Model

if TYPE_CHECKING:
    from ._engine import _Compiled

SAMPLES_PER_ROUND = 1024
ADAPT_ROUNDS = 3
MAX_SAMPLES = 1 << 16
TARGET_BOUND = 0.02  # absolute, on every posterior
MAX_BOUND = 0.05
BOUND_SE = 4.0  # a 4-sigma bound: under the normal approximation exceeded with probability < 1e-4
MIN_ESS = 200.0
DEFENSIVE = 0.2  # share of the initial proposal kept in every adapted one
UNIFORM = 0.05  # share spread evenly over every possible choice, so rare explanations are drawn too
METHOD = "importance_sampling"


def sample_row(
    model: Model,
    compiled: _Compiled,
    upper: np.ndarray,
    findings: np.ndarray,
    side_code: int,
) -> tuple[np.ndarray, float, float, int]:
    """Posterior ``(2C,)`` (presence, then producing the numbness), ``P(e)``, the error bound and the
    number of draws for one row of codes. Raises ``InferenceLimitError`` when the bound cannot be met."""
    from . import _engine as eng

    n_causes = len(model.causes)
    positives = np.flatnonzero(findings >= 1)
    negatives = findings.copy()
    negatives[positives] = -1
    gated = compiled.gated
    base_gated = eng._block(compiled, negatives[None], gated[None], n_causes, np.float64)
    base_other = eng._block(compiled, negatives[None], ~gated[None], n_causes, np.float64)
    tables = []
    for f in positives:  # the leak its own choice: each choice then names the one cause it needs
        choices = eng._finding_choices(model, int(f), eng.ORDERED, leak_apart=True)
        tables.append(tuple(np.array([choice[k] for choice in choices]) for k in range(4)))

    # The mean-field guess: the exact posterior given the negatives and the side finding only.
    start = eng.infer_codes(
        model, eng.Codes(upper[None], negatives[None], np.array([side_code])), with_prior=False, method="exact"
    )
    if start.failure[0] is not None:
        raise start.failure[0]
    present_p, producing_p = start.posterior[0], start.explains[0]
    initial = []
    for f, (coef, absent, present, _) in zip(positives, tables):
        reach = producing_p if gated[f] else present_p
        expected = np.prod((1 - reach) * absent + reach * present, axis=1)
        initial.append(_normalised(coef * expected))

    possible = [_normalised((q > 0).astype(float)) for q in initial]  # rare causes keep a real share
    rng = np.random.default_rng(_seed(upper, findings, side_code))
    # Positives with few causes first: they pin down causes that the wider ones can then reuse.
    order = sorted(range(len(positives)), key=lambda k: (len(initial[k]), k))
    parent_of = []  # per positive: the cause each choice requires (-1 for the leak)
    for _, absent, _, _ in tables:
        needed = absent == 0
        parent_of.append(np.where(needed.any(axis=1), needed.argmax(axis=1), -1))
    reach_of = [np.where(gated[f], producing_p, present_p) for f in positives]

    def weights(choices: np.ndarray, log_q: np.ndarray) -> np.ndarray:
        first, inverse = eng._distinct_rows(choices)
        unique = choices[first]
        blocks = []
        for base, in_block in ((base_gated, True), (base_other, False)):
            parts = [np.repeat(a, len(unique), axis=0) for a in base]
            for k, f in enumerate(positives):
                if bool(gated[f]) != in_block:
                    continue
                pick = unique[:, k]
                coef, absent, present, not_activated = tables[k]
                parts[0] = parts[0] * coef[pick][:, None]
                parts[1] = parts[1] * absent[pick][:, None, :]
                parts[2] = parts[2] * present[pick][:, None, :]
                parts[3] = parts[3] * not_activated[pick][:, None, :]
            blocks.append(tuple(parts))
        coef, absent, present, active = eng._combine(model, compiled, side_code, blocks[0], blocks[1], np.float64)
        n_unique, n_side = coef.shape
        z = eng._eliminate(
            model,
            compiled,
            upper[None],
            absent.reshape(1, -1, n_causes),
            present.reshape(1, -1, n_causes),
            active.reshape(1, -1, n_causes),
            np.float64,
        )[0]
        value = np.maximum((coef.reshape(-1, 1) * z).reshape(n_unique, n_side, -1).sum(axis=1), 0.0)
        return value[inverse] / np.exp(log_q)[:, None]

    tilt = [np.ones(len(q)) for q in initial]  # learned corrections of each positive's choice scores

    def draw(n: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Choice vectors from the sequential proposal: a cause already required by an earlier positive
        costs nothing more to be present, so its choices are not discounted by its probability."""
        choices = np.zeros((n, len(positives)), dtype=np.int64)
        log_q = np.zeros(n)
        used_q = [np.empty(0)] * len(positives)
        required = np.zeros((n, n_causes), dtype=bool)
        for k in order:
            parents, reach = parent_of[k], reach_of[k]
            has = parents >= 0
            boost = np.ones((n, len(parents)))
            boost[:, has] = np.where(required[:, parents[has]], 1 / np.maximum(reach[parents[has]], 1e-12), 1.0)
            score = initial[k][None, :] * tilt[k][None, :] * boost
            q = (
                (1 - DEFENSIVE - UNIFORM) * score / score.sum(axis=1, keepdims=True)
                + DEFENSIVE * initial[k][None, :]
                + UNIFORM * possible[k][None, :]
            )
            used_q[k] = q
            pick = (q.cumsum(axis=1) < rng.random((n, 1)) * q.sum(axis=1, keepdims=True)).sum(axis=1)
            pick = np.minimum(pick, len(parents) - 1)
            choices[:, k] = pick
            log_q += np.log(q[np.arange(n), pick])
            chosen = parents[pick]
            required[np.flatnonzero(chosen >= 0), chosen[chosen >= 0]] = True
        return choices, log_q, used_q

    for _ in range(ADAPT_ROUNDS):  # tilt each choice toward its weighted share (cross-entropy method)
        choices, log_q, used_q = draw(SAMPLES_PER_ROUND)
        w = weights(choices, log_q)[:, 0]
        if not w.any():
            break
        for k in range(len(positives)):
            share = np.bincount(choices[:, k], weights=w, minlength=len(tilt[k])) / w.sum()
            offered = used_q[k].mean(axis=0)
            ratio = np.divide(share + 1e-3 * offered, offered, out=np.ones_like(offered), where=offered > 0)
            tilt[k] = tilt[k] * np.sqrt(ratio)

    # Whether to stop is read from running sums, so a round costs the same however many draws came
    # before; the bound reported, and any refusal, are computed from every draw at the end.
    drawn = []
    sums = np.zeros(1 + 2 * n_causes)  # sum of w
    square_0 = 0.0  # sum of w_0 ** 2
    squares, products = np.zeros(2 * n_causes), np.zeros(2 * n_causes)  # sum of w_j ** 2, of w_j * w_0
    while True:
        choices, log_q, _ = draw(SAMPLES_PER_ROUND)
        w = weights(choices, log_q)
        drawn.append(w)
        sums += w.sum(axis=0)
        square_0 += float((w[:, 0] ** 2).sum())
        squares += (w[:, 1:] ** 2).sum(axis=0)
        products += (w[:, 1:] * w[:, :1]).sum(axis=0)
        total = sums[0]
        if total > 0:
            ratio = sums[1:] / total
            # sum (w_j - ratio * w_0) ** 2, expanded
            residual = np.maximum(squares - 2 * ratio * products + ratio**2 * square_0, 0.0)
            if BOUND_SE * float(np.sqrt(residual).max() / total) <= TARGET_BOUND and total**2 / square_0 >= MIN_ESS:
                break
        if SAMPLES_PER_ROUND * len(drawn) >= MAX_SAMPLES:
            break
    w = np.concatenate(drawn)
    total = w[:, 0].sum()
    if total > 0:
        ratio = w[:, 1:].sum(axis=0) / total
        residual = w[:, 1:] - ratio * w[:, :1]
        bound = BOUND_SE * float(np.sqrt((residual**2).sum(axis=0)).max() / total)
        ess = total**2 / float((w[:, 0] ** 2).sum())
    if total <= 0:
        raise ImpossibleEvidenceError(
            f"none of {len(w)} sampled explanations of this evidence has a non-zero probability; "
            "the model gives it probability zero or too little to estimate"
        )
    if bound > MAX_BOUND or ess < MIN_ESS:
        raise InferenceLimitError(
            f"this evidence is past exact inference, and importance sampling with {len(w)} draws bounds "
            f"the posteriors only to +-{bound:.3f} (effective sample size {ess:.0f}); give fewer "
            "positive findings in one query"
        )
    return np.clip(ratio, 0.0, 1.0), float(total / len(w)), bound, len(w)


def _normalised(x: np.ndarray) -> np.ndarray:
    total = x.sum()
    return x / total if total > 0 else np.full(len(x), 1.0 / len(x))


def _seed(upper: np.ndarray, findings: np.ndarray, side_code: int) -> int:
    digest = hashlib.blake2b(
        np.ascontiguousarray(upper, dtype=np.int64).tobytes()
        + np.ascontiguousarray(findings, dtype=np.int64).tobytes()
        + int(side_code).to_bytes(2, "little"),
        digest_size=8,
    ).digest()
    return int.from_bytes(digest, "little")
