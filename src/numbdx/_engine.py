"""Exact inference: Quickscore over the findings, variable elimination over the risk factors.

Given the causes, findings are independent, and for each finding the event "its pattern is a subset of
B" has probability ``leak(B) * prod_c mult_c(B) ** present_c`` (a product over causes). Evidence on a
finding ("pattern in A") is a signed sum of such events by Moebius inversion over subsets; a positive
binary finding is ``1 - P(off)``, a negative one a single product (Heckerman's Quickscore, generalised
to the side finding's four patterns). Because ``1 - P(off)`` cancels badly for a rare finding, a
positive rare finding with few causes is instead expanded as "fires first through cause j", whose terms
are all non-negative; "through the leak" shares the first cause's term, so that expansion has a term
per cause and one with at most two causes is used whatever the finding's probability (a positive with
one cause is then one term). The evidence is therefore a signed sum over *terms*, each a product over causes
of a multiplier when the cause is absent (``absent[t, c]``) and when it is present (``present[t, c]``).

For one term, summing out each cause given its parents leaves ``g_c = alpha_c * absent + beta_c *
present``, a factor over the cause's parents in the upper layer (context and risk factors), with
``alpha = 1 - p``, ``beta = p``. A variable whose only child is one cause is summed into that cause's
``alpha, beta`` once (``g`` is linear in them); the rest of the upper layer is summed out exactly by
variable elimination (greedy min-fill order), not by enumerating its states. Rows that observe the
same variables and have evidence of the same shape share one elimination, each selecting its own
observed states (``infer`` is a batch of one; ``infer_frame`` batches rows). The numpy path keeps
every table in one workspace whose columns are the (row, term) pairs (``_Packed``), and every
reduction adds in an order fixed by the plan alone, so a row's numbers do not depend on the other rows
in its batch. The one exception is a single patient whose elimination is small (``infer``'s usual
query; see ``CLAMPED_MAX_ENTRIES``): it is eliminated by forward passes alone, each cause clamped
present in turn (``_eliminate_clamped``), which needs a tenth of the numpy calls; the numbers are the
same to rounding. Frames (shared plans) never take it, so their rows stay bitwise independent of their
batch. Where the ``numba`` extra is installed, frames, rows of at least ``KERNEL_MIN_TERMS`` terms and
one patient's extended precision whatever its terms run the same elimination compiled (``_kernel``):
the same numbers in float64, double-double in place of extended precision. The kernel also sums each
row's terms as it makes them (``_kernel.term_sums``), in double-double whatever the dtype, so ``Z``
over (row, term) never reaches memory; numpy sums the terms after the elimination (``_term_sums``).
The sums then differ in their last bits between the two. The kernel path also builds the terms
compiled (``_kernel.build_terms``), rows of every term structure in one call (numpy builds each
structure apart): numpy's float64 terms bit for bit, and double-double
terms (products of float64 numbers, closer to exact than ``np.longdouble``'s) for the double-double
elimination. A frame's upper-layer tables are made once for all its rows (``_UpperTables``).

Leaving a positive expanded with signs out of the evidence keeps exactly the terms that take its
``+1`` choice, so answers for evidence with some such positives left out are masked sums of the whole
evidence's terms (``left_out_answers``; the triage's re-checks). Where one patient is eliminated in
double-double from exact inputs (many positives), ``infer`` asks for those sets with the answer
(``LeftOut``) and the kernel adds their masked sums as it goes: one elimination for both.

``P(cause_j present, evidence)`` is ``Z`` with ``g_j`` replaced by its present part: one backward pass
through the recorded elimination steps gives every cause factor's cavity ``dZ/dg_j`` at about three
times the cost of ``Z``. ``P(cause_j activating the leg numbness, evidence)`` uses the activated part likewise.

Precision: each answer carries a bound on its rounding error (``eps * ops * sum|terms| / |sum|``, with
``eps`` from :func:`_rounding_eps`);
when the bound exceeds ``TARGET_ERROR`` the row is recomputed in extended precision; if that is still
above ``MAX_ERROR``, its positive findings are re-expanded without cancellation (rarest first, within
a term budget) and it is computed again; past that the engine refuses rather than answer wrongly.
One patient on the kernels runs its extended precision from exact inputs (``_exact_inputs``, at any
number of terms), whose bound counts in double-double's unit; its rare positives may then be
expanded with signs to fit the term budget (``_signed_rare``).

Many positives: the terms double with each positive, so rows past ``CHOICES_FROM_TERMS`` terms
(``CHOICES_FROM_TERMS_KERNEL`` on the kernels), or past the count of positives Quickscore is tried
on (``auto_exact_positives``), are not summed term by term: ``_choice_elimination`` eliminates each
finding's choice as a variable together with the upper layer, in double-double, with the same kind of
bound. Its cost is the size of its tables (known before any arithmetic; past its ``MAX_WORK`` the row
is refused, and with ``method="auto"`` sampled).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from . import _kernel
from ._evidence import Evidence, normalise
from ._exceptions import ImpossibleEvidenceError, InferenceLimitError
from ._model import Model

TARGET_ERROR = 1e-9  # the agreement the tests demand; the bound is conservative
MAX_ERROR = 1e-6
MAX_TERMS = 1 << 16
# rows with more positive findings than this are not tried by Quickscore but eliminated over their
# findings' choices (_by_choices). Measured before that path existed, with method="auto": on numpy,
# at 12 the exact answer took about 1 s, and from 13 it mostly failed the precision guard; on the
# compiled kernels, 20 rows of 13 random positives each took 0.25 s on average exact first (75%
# answered exactly, the rest sampled after) against 0.48 s sampled; at 14, 0.48 against 0.42 s with
# 45% exact (at 36f99c0), so the kernels try Quickscore up to 13
AUTO_EXACT_POSITIVES = 12
AUTO_EXACT_POSITIVES_KERNEL = 13
# one patient on the kernels in double-double from exact inputs (_exact_inputs) keeps its precision
# however many positives, so no count of positives takes it from Quickscore (None): its terms alone
# decide (CHOICES_FROM_TERMS_KERNEL, rare positives expanded with signs where needed: _signed_rare).
# On 11 random patients each of 14 and 15 positives, infer answered all exactly in a median 0.11 and
# 0.25 s, against 0.41 and 0.76 s sampled (at 8fe3522)
AUTO_EXACT_POSITIVES_EXACT_INPUTS = None
# The counts above are of positives that multiply the terms (more than one term each): a positive with
# at most one cause is one term, and adds neither cost nor cancellation.
# with at least this many positives expanded with signs (Quickscore), a row is computed in extended
# precision straight away: on bench_batch's cohort, 67% of rows with 4 signed positives, 93% with 5 and
# all with 6 missed the float64 bound at TARGET_ERROR (18% with 3, none with fewer; at 3131976). An
# extended column costs about 2.6 float64 ones (the kernels: 3.08 against 1.18 us; numpy: 19 against
# 6.0 us), so at 4 a float64 pass first would cost 1 + 0.67 * 2.6 = 2.7 against 2.6; at 3 it is the
# cheaper start (1 + 0.18 * 2.6 = 1.5)
SIGNED_FOR_EXTENDED = 4
# how much the float64 bound grows with each signed positive: on 200 rows of 3-10 random signed
# positives (at cbead30) its median went 2.2e-10, 1.6e-9, 3.2e-8, 4.3e-7, 1.2e-6, 3.5e-5 at 3-8, about
# 12x each; at target 1e-7, 37% of rows with 5 missed it and 69% with 6; at 1e-6, 55% with 7 and 86%
# with 8
SIGNED_BOUND_GROWTH = 12.0
# positive findings with at most this many causes, and at most this probability, are expanded without
# cancellation (see _rare); so is every positive finding with at most ORDERED_FREE_PARENTS causes,
# whose ordered expansion (one term per cause) has no more terms than the signed one's two
ORDERED_MAX_PARENTS = 6
ORDERED_FREE_PARENTS = 2
# the ordered expansion's first term holds ``leak + (1 - leak) * q``, which float64 rounds twice more
# than the model's numbers (relative error under 3 * 2**-53 against the exact sum of leak and the
# engine's 1 - leak times q). A relative error d in that multiplier moves P(e), and each joint
# probability, by at most d times the part of it where the finding fired through the leak or its
# first cause with that cause present: the row's terms that take this choice, summed over every
# other finding's choices, are that part, non-negative and at most the whole, however the terms
# cancel. Each ratio to P(e) therefore moves by at most about 2d per such positive, which the bound
# adds (_bounded_in) whatever the precision of the arithmetic after
MERGED_ROUNDING = 2.01 * 3 * 2.0**-53
RARE_ON = 0.02
CHUNK_ELEMENTS = 1_000_000  # rows x terms x widest table entry per elimination pass
TERM_CHUNK_ELEMENTS = 65_536  # terms x widest table entry per pass when one row has many terms
# one patient is eliminated by forward passes alone (_eliminate_clamped) while terms x (1 + C) x the
# plan's workspace rows is at most this. Measured on the full model (reverse / clamped, us): workspace
# 119 rows, 16 terms: 197 / 149, 32 terms: 215 / 251; 210 rows, 8 terms: 324 / 203, 16 terms:
# 339 / 372; 682 rows, 4 terms: 633 / 426, 8 terms: 647 / 2,619; 911 rows, 2 terms: 813 / 388
CLAMPED_MAX_ENTRIES = 100_000
# the compiled kernel (numbdx._kernel) runs frames' eliminations (shared plans) and one patient's from
# this many terms per row: below it, numpy's few milliseconds do not repay numba's import (about 0.5 s
# with its cached kernels, once per process), which infer's usual query (float64) should not pay. The
# choice depends on a row's own terms, never on its batch. Below it the arithmetic is numpy's, which
# the float64 kernel also computes, bit for bit, once something else has loaded it (_eliminate_batch).
# One patient's extended precision runs on the kernels at any size (_exact_inputs): numpy's
# np.longdouble is its slowest path.
KERNEL_MIN_TERMS = 256
COLUMN_CHUNK = 512  # (row, term) pairs per workspace pass of the numpy elimination (measured: 256-4096, 512 best)
# rows with more Quickscore terms than this are eliminated over their findings' choices instead
# (_choice_elimination), whose cost grows with its tables, not with 2**k. Measured one patient at a
# time, infer with method="exact" (median ms, Quickscore / choices; k-sweep and random evidence, in
# one run each, at 45744f3): on numpy, 2,048 terms 56-71 / 49-64, 4,096 108 / 66, 8,192
# 197-282 / 75-89; on the kernels (compiled double-double for both), 8,192 terms 19-32 / 29-35,
# 16,384 49-106 / 35-54, 32,768 122 / 42
CHOICES_FROM_TERMS = 1 << 11
CHOICES_FROM_TERMS_KERNEL = 1 << 13
DENSE_KEYS = 1 << 22  # a frame's upper tables are matched to rows through a table this large, else by sorting
# a frame's upper tables are made for every (context, indicators) combination of a pattern of observed
# context, once per model, where there are at most this many (the full model: 10 contexts x 3
# indicator states = 30); else from the frame's own rows, per frame
CANONICAL_MADE_ROWS = 4096
FACTOR_CACHE_SIZE = 4096  # single-patient contexts whose upper-layer tables are kept
# The side finding's evidence: unknown side with leg numbness, left, right, both, no leg numbness, and
# nothing known (the prior given the context).
SIDE_CODES = (
    frozenset({1, 2, 3}),
    frozenset({1}),
    frozenset({2}),
    frozenset({3}),
    frozenset({0}),
    frozenset({0, 1, 2, 3}),
)
ANYTHING = 5
CONTEXT = (0, 1)  # upper-layer indices of age and sex (see Model._build_upper)


@dataclass(frozen=True)
class Answer:
    """Per row: P(present | e), P(present and producing the numbness | e), P(present | context)."""

    posterior: np.ndarray  # (R, C)
    explains: np.ndarray  # (R, C)
    prior: np.ndarray  # (R, C)
    evidence_probability: np.ndarray  # (R,)
    error_bound: np.ndarray  # (R,)
    terms: np.ndarray  # (R,): exact terms, or importance-sampling draws
    failure: list[Exception | None]  # per row: the error that row raises, if any
    method: np.ndarray  # (R,) str: "exact" or "importance_sampling" (see ``_sampling``)
    # one row asked with ``LeftOut``: each set's answer as :func:`left_out_answers` gives it, where
    # the row's own elimination made it; None where it did not (the caller asks left_out_answers)
    left_out: list[tuple[np.ndarray, float] | None] | None = None


@dataclass(frozen=True)
class LeftOut:
    """Sets of findings left out of one patient's evidence, to answer from the same elimination as the
    evidence (``infer_codes``'s ``left_out``: the triage's re-checks, see :func:`left_out_answers`).
    ``subsets``: finding indices, each a positive expanded with signs; ``causes``: the causes whose
    posteriors and explains each set needs; ``target_error``: the bound each set's answer must meet."""

    subsets: tuple[tuple[int, ...], ...]
    causes: tuple[int, ...]
    target_error: float


@dataclass(frozen=True)
class RowTables:
    """One model's tables per row (sampled parameters, ``_uncertainty``): ``upper[i]`` ``(R, *parents,
    card)``, ``p_present[c]`` ``(R, *parents)``, ``activation`` ``(R, C)``, ``side_subset`` ``(R, 4, C)``
    (P(side pattern within B | activated)), ``link`` ``(R, F, C)`` and ``leak`` ``(R, F)`` (binary
    findings: P(on) through a cause, through the leak)."""

    upper: list[np.ndarray]
    p_present: list[np.ndarray]
    activation: np.ndarray
    side_subset: np.ndarray
    link: np.ndarray
    leak: np.ndarray


@dataclass(frozen=True)
class _Choices:
    """The terms one observation contributes: ``coef (N, w)``, and ``absent``, ``present``,
    ``not_activated`` multipliers ``(N, w, C)``, for ``N`` table entries of width ``w``."""

    coef: np.ndarray
    absent: np.ndarray
    present: np.ndarray
    not_activated: np.ndarray


@dataclass(frozen=True)
class _Compiled:
    """What a model needs for inference that does not depend on the evidence."""

    upper_cards: tuple[int, ...]
    prior_scopes: list[tuple[tuple[int, ...], np.ndarray]]  # remaining upper variables' priors
    cause_scopes: list[tuple[tuple[int, ...], list[int]]]  # effective scope and absorbed variables
    banks: dict[int, _Choices]  # width -> table of choices
    entry: dict[tuple[int, int], tuple[int, int]]  # (finding, pattern) -> (width, row in bank)
    side_terms: tuple[tuple[tuple[int, int], ...], ...]  # per side code: (subset, coefficient)
    widest: int
    width: np.ndarray  # (F, 4): width of the choices of finding f observed as each of CODES (0: side)
    bank_row: np.ndarray  # (F, 4): their row in the bank of that width
    p_on: np.ndarray  # (F,): upper bound on P(finding on), to pick what to re-expand
    gated: np.ndarray  # (F,) bool
    signed: np.ndarray  # (F,) bool: a positive observation expands with signs (Quickscore), not ORDERED
    has_cause: np.ndarray  # (F,) bool: a two-pattern finding with a cause (its ordered first term is a sum)
    term_tables: tuple[np.ndarray, ...]  # the banks flattened, for the compiled term builder (_term_tables)


def _moebius(allowed: frozenset[int], n_patterns: int) -> list[tuple[int, int]]:
    """``P(pattern in A) = sum_B coef_B * P(pattern subset of B)``: the non-zero ``(B, coef_B)``."""
    items = []
    for subset in range(n_patterns):
        c = sum((-1) ** (bin(a).count("1") - bin(subset).count("1")) for a in allowed if a & subset == subset)
        if c:
            items.append((subset, c))
    return items


# Codes of a finding's observation: 0 absent, 1 present, ORDERED present and expanded without
# cancellation (chosen for the rows whose precision needs it; see _reexpand), SIGNED present and
# expanded with signs even where the finding is rare (for rows that fit the term budget only so and are
# eliminated from exact inputs, whose bound allows the cancellation; see _signed_rare).
ORDERED = 2
SIGNED = 3
CODES = (0, 1, ORDERED, SIGNED)


def _p_on_bound(model: Model, index: int) -> float:
    """An upper bound on P(finding on) in any context: every cause at its most likely (and activated,
    for a gated finding)."""
    f = model.findings[index]
    p_off = f.leak_probs[0]
    for c in f.parents:
        reach = model.causes[c].p_present.max() * (model.activation[c] if f.gated else 1.0)
        p_off *= 1 - reach * f.pattern_probs[c, 1]
    return 1 - p_off


def _rare(model: Model, index: int) -> bool:
    """Whether a positive observation of the finding is always expanded without cancellation: a
    finding with few causes whose probability is small in every context (for it ``1 - P(off)``
    cancels, relative error growing like 1/P(on)), or one with at most ``ORDERED_FREE_PARENTS``
    causes, whose ordered expansion needs no more terms than ``1 - P(off)``'s two (one with no cause,
    e.g. numb_calf, would otherwise cancel ``1 - (1 - leak)`` for nothing)."""
    f = model.findings[index]
    if f.n_patterns != 2:
        return False
    if len(f.parents) <= ORDERED_FREE_PARENTS:
        return True
    return len(f.parents) <= ORDERED_MAX_PARENTS and _p_on_bound(model, index) <= RARE_ON


def two_pattern_terms(
    q: np.ndarray, leak: np.ndarray, parents: Sequence[int], code: int, ordered: bool, leak_apart: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The terms a two-pattern finding contributes, for ``R`` sets of numbers at once: ``coef (R, w)``
    and the ``absent``, ``present``, ``not_activated`` multipliers ``(R, w, C)``.

    ``q (R, C)``: P(on) through each cause (0 without a link); ``leak (R,)``: P(on) through the leak;
    ``code``: 0 absent, 1 present. ``ordered``: present, expanded without cancellation as "fires first
    through the leak or the first of ``parents``, or through a later cause j, no earlier cause
    firing": one term per cause (one for the leak alone where there is none), all non-negative;
    otherwise a present finding is Quickscore's ``1 - P(off)``, two signed terms. The engine calls
    this with the model's numbers (``R = 1``), ``_uncertainty`` with every parameter draw's.

    "Through the leak" and "through the first cause" differ in that cause's multipliers alone, so
    they are one term: ``leak`` if it is absent, ``leak + (1 - leak) * q`` if present. That sum is
    rounded once more than the model's numbers (see :data:`MERGED_ROUNDING`). ``leak_apart`` keeps
    them two terms, each choice naming the one cause it needs (or none), as the importance sampler's
    proposal reads them (``_sampling``)."""
    n, n_causes = q.shape
    ones = np.ones((n, n_causes))
    if ordered:
        earlier = ones.copy()
        if leak_apart or not len(parents):
            coefs, absent, present, later = [leak], [ones], [ones], parents
        else:
            first = parents[0]
            either, through_first = ones.copy(), ones.copy()
            either[:, first] = leak  # the leak alone, when the first cause is absent (or not activated)
            through_first[:, first] = leak + (1 - leak) * q[:, first]
            coefs, absent, present, later = [np.ones(n)], [either], [through_first], parents[1:]
            earlier[:, first] = 1 - q[:, first]
        for c in later:
            fires, needed = earlier.copy(), ones.copy()
            fires[:, c], needed[:, c] = q[:, c], 0.0
            coefs.append(1 - leak)
            absent.append(needed)  # cause c must be present, so its absent part is 0
            present.append(fires)
            earlier[:, c] = 1 - q[:, c]
        stacked = np.stack(absent, axis=1)
        return np.stack(coefs, axis=1), stacked, np.stack(present, axis=1), stacked.copy()
    if code == 0:  # P(off) = (1 - leak) * prod over present causes of (1 - q)
        return (1 - leak)[:, None], ones[:, None], (1 - q)[:, None], ones[:, None]
    both = np.stack([ones, ones], axis=1)
    return np.stack([-(1 - leak), np.ones(n)], axis=1), both, np.stack([1 - q, ones], axis=1), both.copy()


def _finding_choices(
    model: Model, index: int, code: int, leak_apart: bool = False
) -> list[tuple[float, np.ndarray, ...]]:
    """Choices ``(coef, absent, present, not_activated)`` for finding ``index`` observed as ``code``
    (``leak_apart``: see :func:`two_pattern_terms`)."""
    f = model.findings[index]
    ordered = code == ORDERED or (code == 1 and _rare(model, index))
    q, leak = f.pattern_probs[None, :, 1], np.array([f.leak_probs[1]])
    parts = two_pattern_terms(q, leak, f.parents, code, ordered, leak_apart)
    return [tuple(part[0, k] for part in parts) for k in range(parts[0].shape[1])]


def _compile(model: Model) -> _Compiled:
    cached = model.__dict__.get("_compiled")
    if cached is not None:
        return cached
    upper_cards = tuple(v.card for v in model.upper)
    priors = {i: ((*v.parents, i), v.table) for i, v in enumerate(model.upper)}
    causes: list[tuple[tuple[int, ...], list[int]]] = [(c.parents, []) for c in model.causes]
    changed = True
    while changed:  # absorb variables whose only child is one cause
        changed = False
        for r in list(priors):
            children = [c for c, (scope, _) in enumerate(causes) if r in scope]
            if len(children) != 1 or any(i != r and r in s for i, (s, _) in priors.items()):
                continue
            (c,) = children
            scope_c, absorbed = causes[c]
            scope_r, _ = priors.pop(r)
            causes[c] = (tuple(sorted((set(scope_c) | set(scope_r)) - {r})), [*absorbed, r])
            changed = True
    scopes = tuple(frozenset(s) for s, _ in priors.values()) + tuple(frozenset(s) for s, _ in causes)

    by_width: dict[int, list] = {}
    entry: dict[tuple[int, int], tuple[int, int]] = {}
    ones = np.ones(len(model.causes))
    by_width[1] = [[(1.0, ones, ones, ones)]]  # row 0 of the width-1 bank: "no information"
    for i, f in enumerate(model.findings):
        if f.kind == "side":
            continue
        for pattern in CODES:
            choices = _finding_choices(model, i, pattern)
            bank = by_width.setdefault(len(choices), [])
            entry[i, pattern] = (len(choices), len(bank))
            bank.append(choices)
    banks = {
        width: _Choices(*(np.array([[ch[k] for ch in row] for row in rows], dtype=np.float64) for k in range(4)))
        for width, rows in by_width.items()
    }
    width = np.array([[entry.get((i, p), (0, 0))[0] for p in CODES] for i in range(len(model.findings))])
    bank_row = np.array([[entry.get((i, p), (0, 0))[1] for p in CODES] for i in range(len(model.findings))])
    gated = np.array([f.gated for f in model.findings])
    side_terms = tuple(tuple(_moebius(code, 4)) for code in SIDE_CODES)
    compiled = _Compiled(
        upper_cards=upper_cards,
        prior_scopes=list(priors.values()),
        cause_scopes=causes,
        banks=banks,
        entry=entry,
        side_terms=side_terms,
        widest=max(int(np.prod([upper_cards[u] for u in s], dtype=np.int64)) for s in scopes),
        width=width,
        bank_row=bank_row,
        p_on=np.array([_p_on_bound(model, i) if f.kind != "side" else 1.0 for i, f in enumerate(model.findings)]),
        gated=gated,
        signed=np.array([f.kind != "side" and not _rare(model, i) for i, f in enumerate(model.findings)]),
        has_cause=np.array([f.n_patterns == 2 and len(f.parents) > 0 for f in model.findings]),
        term_tables=_term_tables(model, banks, width, bank_row, gated, side_terms),
    )
    model.__dict__["_compiled"] = compiled
    return compiled


def _term_tables(
    model: Model,
    banks: dict[int, _Choices],
    width: np.ndarray,
    bank_row: np.ndarray,
    gated: np.ndarray,
    side_terms: tuple[tuple[tuple[int, int], ...], ...],
) -> tuple[np.ndarray, ...]:
    """The arguments of ``_kernel.build_terms`` before the rows': every bank's choices in one table
    (``choice_coef (N,)``, ``choice_vectors (3, N, C)``: absent, present, not activated), each
    (finding, code)'s first choice there (``choice_start (F, 4)``, codes as :data:`CODES`) and
    width, the widths in the order ``_block`` takes them, the gated findings (int8), the side codes'
    terms (``side_subset``, ``side_coef`` ``(codes, 4)`` and ``side_count``), the causes' activation
    and the side finding's ``subset_mult``."""
    offset, coefs, vectors = {}, [], []
    at = 0
    for w in sorted(banks):
        offset[w] = at
        coefs.append(banks[w].coef.reshape(-1))
        vectors.append(
            np.stack([t.reshape(-1, t.shape[-1]) for t in (banks[w].absent, banks[w].present, banks[w].not_activated)])
        )
        at += banks[w].coef.size
    safe_width = np.maximum(width, 1)
    choice_start = np.array([offset.get(int(w), 0) for w in width.reshape(-1)]).reshape(width.shape)
    choice_start = choice_start + bank_row * safe_width
    side_subset = np.zeros((len(side_terms), 4), dtype=np.int64)
    side_coef = np.zeros((len(side_terms), 4))
    for code, terms in enumerate(side_terms):
        for i, (subset, coef) in enumerate(terms):
            side_subset[code, i], side_coef[code, i] = subset, coef
    return (
        choice_start.astype(np.int64),
        width.astype(np.int64),
        np.array(sorted(w for w in banks if w > 0), dtype=np.int64),
        gated.astype(np.int8),
        np.ascontiguousarray(np.concatenate(coefs), dtype=np.float64),
        np.ascontiguousarray(np.concatenate(vectors, axis=1), dtype=np.float64),
        side_subset,
        side_coef,
        np.array([len(t) for t in side_terms], dtype=np.int64),
        np.ascontiguousarray(model.activation, dtype=np.float64),
        np.ascontiguousarray(model.findings[model.side_index].subset_mult, dtype=np.float64),
    )


def compiled_gated(model: Model) -> np.ndarray:
    """``(F,)`` bool: which findings are read given a cause's activation."""
    return _compile(model).gated


@lru_cache(maxsize=256)
def _elimination_order(scopes: tuple[frozenset[int], ...], variables: frozenset[int]) -> tuple[int, ...]:
    """Greedy min-fill (ties: smallest clique) order for summing out ``variables``."""
    neighbours = {v: set() for v in variables}
    for scope in scopes:
        for v in scope:
            neighbours[v] |= scope - {v}
    order = []
    remaining = set(variables)
    while remaining:

        def cost(v: int) -> tuple[int, int, int]:
            nb = neighbours[v] & remaining
            fill = sum(1 for a in nb for b in nb if a < b and b not in neighbours[a])
            return fill, len(nb), v

        v = min(remaining, key=cost)
        nb = neighbours[v] & remaining
        for a in nb:
            neighbours[a] |= nb - {a}
        remaining.remove(v)
        order.append(v)
    return tuple(order)


# --- evidence as codes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """Evidence of ``R`` rows: ``upper (R, U)`` state or -1; ``findings (R, F)`` pattern (0/1) or -1;
    ``side (R,)`` index into :data:`SIDE_CODES`."""

    upper: np.ndarray
    findings: np.ndarray
    side: np.ndarray
    shared: bool = False  # risk factors as indicators: see infer_codes(shared_plans=...)

    def __len__(self) -> int:
        return len(self.side)

    def take(self, rows: np.ndarray, findings: np.ndarray | None = None) -> Codes:
        """These rows (with other finding codes if given), keeping how plans are shared."""
        return Codes(
            self.upper[rows], self.findings[rows] if findings is None else findings, self.side[rows], self.shared
        )


def codes_from_evidence(model: Model, rows: Sequence[Evidence]) -> Codes:
    upper = np.full((len(rows), len(model.upper)), -1, dtype=np.int64)
    findings = np.full((len(rows), len(model.findings)), -1, dtype=np.int64)
    side = np.zeros(len(rows), dtype=np.int64)
    for r, ev in enumerate(rows):
        for i, s in ev.upper.items():
            upper[r, i] = s
        for i, allowed in ev.findings.items():
            if i == model.side_index:
                side[r] = SIDE_CODES.index(allowed)
            elif len(allowed) == 1:
                findings[r, i] = next(iter(allowed))
    return Codes(upper, findings, side)


# --- terms ------------------------------------------------------------------------------------------


def _positions(compiled: _Compiled, findings: np.ndarray, mask: np.ndarray, width: int) -> np.ndarray:
    """``(R, n)`` bank rows of each row's observations of ``width`` selected by ``mask``, padded with
    bank row 0 (width 1: "no information")."""
    if len(findings) == 1:  # one patient: the same bank rows in the same order, without the padding
        (columns,) = np.nonzero(mask[0] & (findings[0] >= 0))
        columns = columns[compiled.width[columns, findings[0, columns]] == width]
        return compiled.bank_row[columns, findings[0, columns]][None, :]
    observed = findings >= 0
    pattern = np.where(observed, findings, 0)
    columns = np.arange(findings.shape[1])
    rows = compiled.bank_row[columns, pattern]
    selected = mask & observed & (compiled.width[columns, pattern] == width)
    counts = selected.sum(axis=1)
    count = int(counts.max(initial=0))
    if (counts == count).all():  # no padding (always so for width > 1 in one term structure)
        return rows[selected].reshape(len(findings), count)
    # each selected observation goes to its rank among its row's, in column order; the rest stay 0
    ids = np.zeros((len(findings), count), dtype=rows.dtype)
    where, _ = np.nonzero(selected)
    ids[where, (np.cumsum(selected, axis=1) - 1)[selected]] = rows[selected]
    return ids


def _block(
    compiled: _Compiled, findings: np.ndarray, mask: np.ndarray, n_causes: int, dtype: type
) -> tuple[np.ndarray, ...]:
    """Terms of the observations selected by ``mask``: ``coef (R, T)`` and ``absent``, ``present``,
    ``not_activated`` ``(R, T, C)``: negatives multiply in; each positive multiplies the terms."""
    n_rows = len(findings)
    bank = compiled.banks[1]
    ids = _positions(compiled, findings, mask, 1)
    coef = bank.coef[ids, 0].prod(axis=1).astype(dtype)[:, None]
    vectors = [
        table[ids, 0].prod(axis=1).astype(dtype)[:, None, :]
        for table in (bank.absent, bank.present, bank.not_activated)
    ]
    observed = mask & (findings >= 0)
    columns = np.nonzero(observed)[1]
    in_use = set(compiled.width[columns, findings[observed]].tolist())  # only the widths these rows use
    for width in sorted(w for w in in_use if w > 1):
        bank = compiled.banks[width]
        for rows in _positions(compiled, findings, mask, width).T:
            new_coef = bank.coef[rows].astype(dtype, copy=False)  # (R, w)
            coef = (coef[:, :, None] * new_coef[:, None, :]).reshape(n_rows, -1)
            for k, table in enumerate((bank.absent, bank.present, bank.not_activated)):
                new = table[rows].astype(dtype, copy=False)  # (R, w, C)
                vectors[k] = (vectors[k][:, :, None, :] * new[:, None, :, :]).reshape(n_rows, -1, n_causes)
    return (coef, *vectors)


def _group_terms(
    model: Model, compiled: _Compiled, findings: np.ndarray, side_code: int, dtype: type
) -> tuple[np.ndarray, ...]:
    """Terms of rows that share the shape of their evidence: ``coef (R, T)``, ``absent``,
    ``present``, ``active`` ``(R, T, C)``."""
    n_causes = len(model.causes)
    gated = np.broadcast_to(compiled.gated, findings.shape)
    gated_block = _block(compiled, findings, gated, n_causes, dtype)
    other_block = _block(compiled, findings, ~gated, n_causes, dtype)
    return _combine(model, compiled, side_code, gated_block, other_block, dtype)


def _combine(
    model: Model,
    compiled: _Compiled,
    side_code: int,
    gated_block: tuple[np.ndarray, ...],
    other_block: tuple[np.ndarray, ...],
    dtype: type,
    tables: RowTables | None = None,
) -> tuple[np.ndarray, ...]:
    """Terms of the gated findings' block (read given a cause's activation), the side finding and the
    other findings' block, combined: every gated term with every side term and every other term.
    ``tables`` gives each row its own activation and side probabilities."""
    coef_g, absent_g, produced_g, not_activated_g = gated_block
    coef_o, absent_o, present_o, _ = other_block
    n_rows, n_causes = coef_g.shape[0], absent_g.shape[-1]
    if tables is None:
        s = model.activation.astype(dtype)
        pi = model.findings[model.side_index].subset_mult.astype(dtype)  # P(side within S | activated)
    else:
        s = tables.activation.astype(dtype)[:, None, :]
        pi = np.moveaxis(tables.side_subset.astype(dtype), 1, 0)[:, :, None, :]  # (4, R, 1, C)
    side_terms = compiled.side_terms[side_code]
    coef_n = np.concatenate([c * coef_g for _, c in side_terms], axis=1)
    absent_n = np.concatenate([absent_g for _ in side_terms], axis=1)
    active_n = np.concatenate([s * pi[subset] * produced_g for subset, _ in side_terms], axis=1)
    present_n = np.concatenate([(1 - s) * not_activated_g for _ in side_terms], axis=1) + active_n

    def combine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a[:, :, None, :] * b[:, None, :, :]).reshape(n_rows, -1, n_causes)

    coef = (coef_n[:, :, None] * coef_o[:, None, :]).reshape(n_rows, -1)
    return coef, combine(absent_n, absent_o), combine(present_n, present_o), combine(active_n, present_o)


# --- elimination ------------------------------------------------------------------------------------


def _full(table: np.ndarray, scope: Sequence[int], n_upper: int, *, per_row: bool = False) -> np.ndarray:
    """``table`` over ``scope`` as an array over every upper variable (size 1 outside the scope),
    after two batch axes: factors then multiply by broadcasting and sum out by ``.sum(axis)``.
    ``per_row``: the table has a leading axis of rows (one table per row: sampled parameters)."""
    lead = 1 if per_row else 0
    order = sorted(range(len(scope)), key=lambda k: scope[k])
    shape = [1] * n_upper
    for k in order:
        shape[scope[k]] = table.shape[lead + k]
    rows = table.shape[0] if per_row else 1
    return np.transpose(table, [*range(lead), *(lead + k for k in order)]).reshape((rows, 1, *shape))


Terms = np.ndarray | _kernel.DoubleDouble  # terms as numpy or the kernel builds them (_kernel.build_terms)


def _eliminate(
    model: Model,
    compiled: _Compiled,
    upper: np.ndarray,
    absent: Terms,
    present: Terms,
    active: Terms,
    dtype: type,
    shared: bool = False,
    kernel: bool | None = None,
    coef: Terms | None = None,
    factors: tuple[_Plan, tuple[Terms, ...]] | None = None,
    numpy_rows: list[np.ndarray] | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``Z[r, t, j]``: the upper layer summed out for each row, term and clamp: ``j = 0`` none,
    ``j = 1 + c`` cause ``c`` present, ``j = 1 + C + c`` cause ``c`` producing the numbness.
    ``kernel``: whether the compiled kernel may run (see ``KERNEL_MIN_TERMS``); by default, for
    ``shared`` plans and when the rows have that many terms here (callers that pass a slice of each
    row's terms decide from the whole row). With the terms' coefficients ``coef (R, T)``, returns
    instead the sums over terms of ``coef * Z`` and ``|coef| * Z`` (each ``(R, J)``; see
    :func:`_term_sums`), which the kernel makes without writing ``Z`` out. ``factors``: the plan and
    :func:`_stack_tables` of these rows' upper layer, if already made (:class:`_UpperTables`,
    :func:`_exact_factors`). ``numpy_rows``: see :func:`_eliminate_batch`."""
    if factors is not None:
        plan, tables = factors
    # one patient, or rows of one patient's context (the triage's and the value of information's
    # batches: the same context, other findings): the tables depend on the context alone, and contexts
    # repeat. Frames (shared) keep to one row, so that their many contexts do not fill the cache.
    elif len(upper) == 1 or (not shared and (upper == upper[0]).all()):
        cache = model.__dict__.setdefault("_factor_cache", {})
        key = (upper[0].tobytes(), np.dtype(dtype).name, shared)
        built = cache.get(key)
        if built is None:
            if len(cache) >= FACTOR_CACHE_SIZE:
                cache.clear()
            plan, priors, causes = _factors(model, compiled, upper[:1], dtype, shared=shared)
            built = cache[key] = (plan, _stack_tables(priors, causes))
        plan, tables = built
        _, n_terms, n_causes = present.shape
        if len(upper) == 1 and not shared and n_terms * (1 + n_causes) * plan.packed.width <= CLAMPED_MAX_ENTRIES:
            absent, present, active = (_kernel.as_array(a) for a in (absent, present, active))
            z = _eliminate_clamped(plan.packed, *tables, absent, present, active, dtype)
            return z if coef is None else _term_sums(_kernel.as_array(coef), z)
    else:
        plan, priors, causes = _factors(model, compiled, upper, dtype, shared=shared)
        tables = _stack_tables(priors, causes)
    if kernel is None:
        kernel = shared or present.shape[1] >= KERNEL_MIN_TERMS
    return _eliminate_batch(
        plan, tables, absent, present, active, dtype, kernel=kernel, coef=coef, numpy_rows=numpy_rows
    )


def _full_tables(model: Model, dtype: type) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The model's tables in ``dtype`` as :func:`_full` arrays, made once per model and dtype: each
    upper variable's ``P(v | parents)`` and each cause's ``P(present | parents)``. Read-only, since
    :func:`_factors` hands out views of them."""
    cache = model.__dict__.setdefault("_full_tables", {})
    key = np.dtype(dtype).name
    made = cache.get(key)
    if made is None:
        n_upper = len(model.upper)
        upper = [_full(v.table.astype(dtype), (*v.parents, i), n_upper) for i, v in enumerate(model.upper)]
        causes = [_full(c.p_present.astype(dtype), c.parents, n_upper) for c in model.causes]
        for arr in (*upper, *causes):
            arr.flags.writeable = False
        made = cache[key] = (upper, causes)
    return made


def _factors(
    model: Model,
    compiled: _Compiled,
    upper: np.ndarray,
    dtype: type,
    tables: RowTables | None = None,
    *,
    shared: bool = False,
) -> tuple:
    """The plan and the compact tables of the upper layer given the rows' evidence: priors
    ``(scope, (R|1, entries))`` and, per cause, ``(scope, alpha, beta)`` with ``g = alpha * absent +
    beta * present``. ``tables`` replaces the model's tables with one per row."""
    per_row = tables is not None
    full_tables = None if per_row else _full_tables(model, dtype)

    def upper_full(i: int) -> np.ndarray:
        """``P(i | parents)`` over every upper variable (:func:`_full`)."""
        if full_tables is not None:
            return full_tables[0][i]
        return _full(tables.upper[i].astype(dtype), (*model.upper[i].parents, i), n_upper, per_row=True)

    n_rows = len(upper)
    n_upper = len(model.upper)
    # Observed variables are selected (their tables shrink): rows of one batch observe the same ones.
    # With ``shared``, risk factors instead enter as indicators (1 for an allowed state), so rows that
    # observe different risk factors share one plan; multiplying by 1 or 0 is exact, so a row's numbers
    # still do not depend on its batch (they differ from the selected ones in the last bits only).
    selectable = list(CONTEXT if shared else range(n_upper))
    known = upper[:, selectable] >= 0
    observed = frozenset(np.array(selectable)[known.all(axis=0)].tolist())
    if (known.any(axis=0) & ~known.all(axis=0)).any():
        raise AssertionError("rows of one batch must observe the same upper variables")
    # the value each row observes, where every row observes the same one (always so for one row)
    same = {v: int(upper[0, v]) for v in observed if n_rows == 1 or (upper[:, v] == upper[0, v]).all()}
    indicators = {}
    for v in range(len(CONTEXT), n_upper) if shared else ():
        known = upper[:, v] >= 0
        if known.any():
            lam = np.ones((n_rows, model.upper[v].card), dtype=dtype)
            lam[known] = 0
            lam[np.flatnonzero(known), upper[known, v]] = 1
            indicators[v] = lam

    def indicate(arr: np.ndarray, v: int) -> np.ndarray:
        """Multiply ``arr`` (which holds ``P(v | parents)`` along ``v``) by each row's indicator of ``v``."""
        if v not in indicators:
            return arr
        shape = [n_rows] + [1] * (arr.ndim - 1)
        shape[2 + v] = arr.shape[2 + v]
        return arr * indicators[v].reshape(shape)

    def evidence(arr: np.ndarray, v: int) -> np.ndarray:
        """Select the observed state of ``v`` in ``arr`` (rows share which variables they observe)."""
        axis = 2 + v
        if arr.shape[axis] == 1 or v not in observed:
            return arr
        if v in same:  # one value for every row: a view
            index = [slice(None)] * arr.ndim
            index[axis] = slice(same[v], same[v] + 1)
            return arr[tuple(index)]
        values = upper[:, v]
        onehot = np.zeros((n_rows, arr.shape[axis]), dtype=dtype)
        onehot[np.arange(n_rows), values] = 1
        shape = [n_rows] + [1] * (arr.ndim - 1)
        shape[axis] = arr.shape[axis]
        return (arr * onehot.reshape(shape)).sum(axis=axis, keepdims=True)

    def compact(arr: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
        """(scope, (R|1, entries)) from a full-rank array with no term axis."""
        scope = tuple(v for v, n in enumerate(arr.shape[2:]) if n > 1)
        return scope, arr.reshape(arr.shape[0], -1)

    priors = []  # (scope, (R|1, entries))
    for scope, _ in compiled.prior_scopes:
        arr = indicate(upper_full(scope[-1]), scope[-1])
        arr = evidence(arr, scope[-1])
        for v in observed.intersection(scope[:-1]):
            arr = evidence(arr, v)
        priors.append(compact(arr))
    causes = []  # (scope, alpha (R|1, entries), beta (R|1, entries))
    for c, (_, absorbed) in enumerate(compiled.cause_scopes):
        cause = model.causes[c]
        if full_tables is not None:
            p = full_tables[1][c]
        else:
            p = _full(tables.p_present[c].astype(dtype), cause.parents, n_upper, per_row=True)
        # the observed states first, so that ``1 - p`` is taken on them alone (exact rationals make
        # every subtraction count); selecting is exact, so the numbers are those of selecting after
        for v in observed.intersection(cause.parents):
            p = evidence(p, v)
        alpha, beta = 1 - p, p
        for r in absorbed:  # alpha, beta <- sum_r P(r | ...) e_r(r) alpha, beta
            weight = indicate(upper_full(r), r)
            weight = evidence(weight, r)
            alpha, beta = evidence(alpha, r), evidence(beta, r)  # selects r where every row observed it
            alpha = (alpha * weight).sum(axis=2 + r, keepdims=True)
            beta = (beta * weight).sum(axis=2 + r, keepdims=True)
        # an absorbed variable's weight may carry an observed parent (alpha and beta share a shape)
        for v in [v for v in observed if alpha.shape[2 + v] > 1]:
            alpha, beta = evidence(alpha, v), evidence(beta, v)
        scope, alpha = compact(alpha)
        causes.append((scope, alpha, beta.reshape(alpha.shape)))
    plan = _plan(tuple(s for s, _ in priors) + tuple(s for s, _, _ in causes), compiled.upper_cards, len(priors))
    return plan, priors, causes


class _UpperTables:
    """The upper layer's tables for every row of a frame (shared plans), made once per pattern of
    observed context variables (and dtype), then gathered for each elimination's rows: a cohort of
    10,000 rows has over a hundred eliminations, each of which made its rows' tables anew.

    They are made from few rows: in a shared plan the context (age, sex) is selected and risk factors
    enter as indicators, a prior's table carrying its own variable's and a cause's table those of the
    variables absorbed into it (see :func:`_compile`). A row's table therefore depends on its
    context and those indicators alone, which take a few values among thousands of rows. Per context,
    :func:`_factors` runs on one row per value of each table's indicators (the *made* rows, which do
    not depend on the dtype), and each row takes each table from the made row with its values,
    gathered only when its elimination asks (extended precision asks for a few rows of thousands).
    Where they are few (``CANONICAL_MADE_ROWS``), the made rows are every combination of the pattern's
    contexts and indicators' values, whose tables are kept with the model for the next frame (they
    took 38 of 506 ms on bench_batch's cohort); else they are the frame's own combinations.
    :func:`_factors` works row by row, so every row's tables are those it would have had in any batch
    (the tests compare them bit for bit)."""

    def __init__(self, model: Model, compiled: _Compiled, upper: np.ndarray, rows: np.ndarray | None = None) -> None:
        self._model, self._compiled, self._upper = model, compiled, upper
        self._rows = rows  # the callers' row numbers -> rows of ``upper``
        self._observed = upper[:, list(CONTEXT)] >= 0  # each row's pattern of observed context
        # pattern -> made rows, (tables, members) made row of each member's table, member of each row,
        # whether the made rows are every combination (canonical)
        self._layouts: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = {}
        # (pattern, dtype) -> plan and per group (priors, alphas, betas) its made tables (entries, made
        # rows) and each entry's table
        self._made: dict[tuple[bytes, str], tuple[_Plan, tuple[tuple[np.ndarray, np.ndarray], ...]]] = {}

    def subset(self, rows: np.ndarray) -> _UpperTables:
        """The same tables for ``rows`` (numbered from 0), sharing what is made."""
        mapped = rows if self._rows is None else self._rows[rows]
        subset = _UpperTables(self._model, self._compiled, self._upper, mapped)
        subset._layouts, subset._made = self._layouts, self._made
        return subset

    def get(self, rows: np.ndarray, dtype: type) -> tuple[_Plan, tuple[np.ndarray, ...]]:
        """The plan and :func:`_stack_tables` of ``rows``, which observe the same context variables."""
        rows = rows if self._rows is None else self._rows[rows]
        pattern = self._observed[rows[0]].tobytes()
        layout = self._layouts.get(pattern)
        if layout is None:
            members = np.flatnonzero((self._observed == self._observed[rows[0]]).all(axis=1))
            canonical = self._canonical_layout(self._upper[members])
            made_rows, of_row = canonical or self._layout(self._upper[members])
            member = np.full(len(self._upper), -1, dtype=np.intp)
            member[members] = np.arange(len(members))
            layout = self._layouts[pattern] = (made_rows, of_row, member, canonical is not None)
        made_rows, of_row, member, canonical = layout
        key = (pattern, np.dtype(dtype).name)
        made = self._made.get(key)
        if made is None:
            # canonical made rows depend on the model and the pattern alone: their tables outlive the frame
            kept = self._model.__dict__.setdefault("_canonical_upper_tables", {}) if canonical else {}
            made = kept.get(key)
            if made is None:
                made = kept[key] = self._make(made_rows, dtype)
            self._made[key] = made
        plan, ((priors, prior_table), (alphas, cause_table), (betas, _)) = made
        made_of_row = of_row[:, member[rows]]  # (tables, rows)

        def flat_index(table: np.ndarray) -> np.ndarray:
            """Where entry e of row r lies in its group's tables, flattened: e * made rows + made row."""
            return np.take(made_of_row, table, axis=0) + (np.arange(len(table)) * len(made_rows))[:, None]

        # entry e of row r is tables[e, made_of_row[table[e], r]]: whole rows of made_of_row, then one
        # flat take (twice as fast as a two-dimensional gather: 9 against 18 ms on 9,214 rows); a
        # cause's alpha and beta have the same scope, so they share their entries' places
        at_causes = flat_index(cause_table)
        return plan, (
            np.take(priors.reshape(-1), flat_index(prior_table)),
            np.take(alphas.reshape(-1), at_causes),
            np.take(betas.reshape(-1), at_causes),
        )

    def _indicators(self) -> list[list[int]]:
        """Each table's indicator variables: a prior's own variable, a cause's absorbed ones."""
        compiled = self._compiled
        return [[scope[-1]] for scope, _ in compiled.prior_scopes] + [
            list(absorbed) for _, absorbed in compiled.cause_scopes
        ]

    def _canonical_layout(self, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """:meth:`_layout` with made rows that do not depend on the frame: for ``upper``'s pattern of
        observed context, one per context (the observed context variables' states) and code of each
        table's indicators. A row's table is then that of the made row ``context * span + code``, with
        no search. None where there would be more than ``CANONICAL_MADE_ROWS``."""
        cards = self._compiled.upper_cards
        observed = [v for v in CONTEXT if upper[0, v] >= 0]
        # a context variable is selected, not indicated: its prior's table has no indicator to code
        indicators = [[v for v in variables if v not in CONTEXT] for variables in self._indicators()]
        base = 1 + max((cards[v] for v in itertools.chain(*indicators)), default=1)  # digit 0: not observed
        span = base ** max(map(len, indicators), default=0)
        n_contexts = int(np.prod([cards[v] for v in observed], dtype=np.int64))
        if n_contexts * span > CANONICAL_MADE_ROWS:
            return None
        context_of_made, code_of_made = np.divmod(np.arange(n_contexts * span), span)
        made = np.full((n_contexts * span, upper.shape[1]), -1, dtype=upper.dtype)
        context = np.zeros(len(upper), dtype=np.intp)
        radix = 1
        for v in observed:
            made[:, v] = context_of_made // radix % cards[v]
            context += upper[:, v] * radix
            radix *= cards[v]
        weights = np.zeros((upper.shape[1], len(indicators)))
        for i, variables in enumerate(indicators):
            for j, v in enumerate(variables):
                weights[v, i] = base**j
                state = code_of_made // base**j % base - 1
                # a digit past the variable's states codes no row's table: left not observed
                made[:, v] = np.where(state < cards[v], state, -1)
        # in float64 (small integers: exact), where numpy's integer product takes 14 times as long
        of_row = context[:, None] * span + ((upper + 1).astype(np.float64) @ weights).astype(np.intp)
        return made, np.ascontiguousarray(of_row.T)

    def _layout(self, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For ``upper``'s rows (one pattern of observed context): the made rows, and the made row
        holding each row's version of each table, ``(tables, rows)``."""
        compiled = self._compiled
        indicators = self._indicators()
        n_tables = len(indicators)
        # each (row, table) gets a key: its context, the table, and the table's indicators' states
        context_cards = np.array([compiled.upper_cards[v] + 1 for v in CONTEXT])  # + 1: not observed
        context_code = (upper[:, list(CONTEXT)] + 1) @ np.cumprod([1, *context_cards[:-1]])
        _, context = np.unique(context_code, return_inverse=True)
        base = 1 + max((compiled.upper_cards[v] for v in itertools.chain(*indicators)), default=1)
        span = base ** max(map(len, indicators))
        weights = np.zeros((upper.shape[1], n_tables))
        for i, variables in enumerate(indicators):
            weights[variables, i] = base ** np.arange(len(variables))
        codes = ((upper + 1).astype(np.float64) @ weights).astype(np.int64)  # small integers: exact
        key = (context[:, None] * n_tables + np.arange(n_tables)) * span + codes
        flat = key.reshape(-1)
        space = (int(context.max()) + 1) * n_tables * span
        if space <= DENSE_KEYS:  # a table over every possible key, which needs no sort
            seen = np.zeros(space, dtype=bool)
            seen[flat] = True
            occurrence = np.empty(space, dtype=np.intp)
            occurrence[flat] = np.arange(flat.size)  # one (row, table) with that key, whichever
            keys = np.flatnonzero(seen)
            first, index = occurrence[keys], (np.cumsum(seen) - 1)[flat]
        else:
            keys, first, index = np.unique(flat, return_index=True, return_inverse=True)
        source = first // n_tables  # a row with each key
        block = keys // span  # context * n_tables + table
        rank = np.arange(len(keys)) - np.searchsorted(block, block)  # among its table's keys in its context
        of_context = block // n_tables
        per_context = np.zeros(int(of_context.max()) + 1, dtype=np.intp)
        np.maximum.at(per_context, of_context, rank + 1)
        made_row = np.concatenate([[0], np.cumsum(per_context)[:-1]])[of_context] + rank
        # one made row per context and rank: its context's states, and each table's indicators from
        # that table's key of that rank (tables' indicators are disjoint: a variable is absorbed or not)
        made = np.empty((int(per_context.sum()), upper.shape[1]), dtype=upper.dtype)
        made[made_row] = upper[source]
        counts = np.array([len(v) for v in indicators])[block % n_tables]
        variables = np.concatenate([indicators[i] for i in block % n_tables]).astype(np.intp)
        made[np.repeat(made_row, counts), variables] = upper[np.repeat(source, counts), variables]
        return made, made_row[index].reshape(key.shape).T

    def _make(self, made: np.ndarray, dtype: type) -> tuple[_Plan, tuple[tuple[np.ndarray, np.ndarray], ...]]:
        """The plan, and per group of :func:`_stack_tables` (priors, alphas, betas) every table of the
        made rows ``(entries, made rows)`` and the table of each entry."""
        plan, priors, causes = _factors(self._model, self._compiled, made, dtype, shared=True)
        groups = []
        for group in (
            [(i, table) for i, (_, table) in enumerate(priors)],
            [(len(priors) + c, alpha) for c, (_, alpha, _) in enumerate(causes)],
            [(len(priors) + c, beta) for c, (_, _, beta) in enumerate(causes)],
        ):
            tables = [np.broadcast_to(table, (len(made), table.shape[1])) for _, table in group]
            table_of_entry = [np.full(table.shape[1], i, dtype=np.intp) for i, table in group]
            groups.append(
                (
                    np.ascontiguousarray(np.concatenate(tables or [np.zeros((len(made), 0), dtype=dtype)], axis=1).T),
                    np.concatenate(table_of_entry or [np.zeros(0, dtype=np.intp)]),
                )
            )
        return plan, tuple(groups)


def _eliminate_batch(
    plan: _Plan,
    tables: tuple[Terms, ...],
    absent: Terms,
    present: Terms,
    active: Terms,
    dtype: type,
    *,
    kernel: bool = True,
    coef: Terms | None = None,
    numpy_rows: list[np.ndarray] | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The elimination of :func:`_eliminate` on every row and term at once: by the compiled kernel
    where numba is installed and ``kernel`` (:mod:`numbdx._kernel`; the same numbers in float64,
    double-double for extended precision), else with numpy's arithmetic (:func:`_numpy_columns`; in
    float64 the kernel computes it where an earlier call has loaded it, bit for bit). With ``coef``,
    the sums over terms of :func:`_term_sums` instead of ``Z``. Terms and tables in double-double
    (:class:`_kernel.DoubleDouble`) go to numpy rounded to ``np.longdouble``. ``numpy_rows``, a list,
    receives the rows computed with numpy (all of them where the kernel does not run).

    With numpy, every factor, initial or produced by a step, is a block of rows of one workspace ``(W, N)`` whose
    columns are the ``N = rows * terms`` (row, term) pairs (``plan.packed``): a step is then one
    gather, one product over its operands and one sum, whatever its number of operands. Each column's
    arithmetic is the same whatever the other columns, so a row's numbers do not depend on its batch.
    Columns go ``COLUMN_CHUNK`` at a time, which keeps the workspace in cache. ``tables``:
    :func:`_stack_tables` of the plan's factors."""
    arrays = (*tables, absent, present, active)
    everything = slice(None)

    def on_numpy(rows: np.ndarray | slice) -> np.ndarray:
        """``Z`` of ``rows`` with numpy (the kernel's fallback, see ``_kernel.TINY``)."""
        if numpy_rows is not None:
            numpy_rows.append(np.arange(len(present))[rows])
        row_tables = (_kernel.as_array(t if t.shape[1] == 1 else t[:, rows]) for t in tables)
        row_terms = (_kernel.as_array(a[rows]) for a in (absent, present, active))
        return _numpy_columns(plan.packed, *row_tables, *row_terms, dtype)

    def numpy_z() -> np.ndarray:
        """``Z`` of every row as numpy computes it: by the float64 kernel where it is loaded already,
        the same numbers bit for bit, so that a row's answer does not depend on whether an earlier
        call imported numba (nothing here imports it: that costs more than a small query). Its rows
        count as numpy's in ``numpy_rows`` either way: the arithmetic is numpy's."""
        if dtype is np.float64 and _kernel.loaded():
            done = _kernel.eliminate(plan.packed, arrays, dtype)
            if done is not None and not len(done[1]):
                if numpy_rows is not None:
                    numpy_rows.append(np.arange(len(present)))
                return done[0]
        return on_numpy(everything)

    if coef is not None:
        done = _kernel.term_sums(plan.packed, arrays, coef, dtype) if kernel else None
        if done is None:
            return _term_sums(coef, numpy_z())
        total, absolute, left = done
        if len(left):
            total[left], absolute[left] = _term_sums(_kernel.as_array(coef[left]), on_numpy(left))
        return total, absolute
    done = _kernel.eliminate(plan.packed, arrays, dtype) if kernel else None
    if done is None:
        return numpy_z()
    z, left = done
    if len(left):
        z[left] = on_numpy(left)
    return z


def _term_sums(coef: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sum_t coef[r, t] * z[r, t, j]`` and ``sum_t |coef[r, t]| * z[r, t, j]``, each ``(R, J)``, a
    row's terms summed in one order whatever its batch."""
    z = np.ascontiguousarray(np.swapaxes(z, 1, 2))  # (R, J, T)
    return (coef[:, None, :] * z).sum(axis=-1), (np.abs(coef)[:, None, :] * z).sum(axis=-1)


def _numpy_columns(
    packed: _Packed,
    priors_t: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    absent: np.ndarray,
    present: np.ndarray,
    active: np.ndarray,
    dtype: type,
) -> np.ndarray:
    """:func:`_eliminate_columns` over every (row, term) column, ``COLUMN_CHUNK`` columns at a time."""
    n_rows, n_terms, _ = present.shape
    if n_rows * n_terms <= COLUMN_CHUNK:
        return _eliminate_columns(packed, priors_t, alpha, beta, absent, present, active, dtype)
    if n_rows == 1:  # one row with many terms: slices of terms
        return np.concatenate(
            [
                _eliminate_columns(
                    packed,
                    priors_t,
                    alpha,
                    beta,
                    *(a[:, t : t + COLUMN_CHUNK] for a in (absent, present, active)),
                    dtype,
                )
                for t in range(0, n_terms, COLUMN_CHUNK)
            ],
            axis=1,
        )
    step = max(1, COLUMN_CHUNK // n_terms)

    def rows_of(table: np.ndarray, part: slice) -> np.ndarray:
        return table if table.shape[1] == 1 else table[:, part]

    return np.concatenate(
        [
            _eliminate_columns(
                packed,
                rows_of(priors_t, part),
                rows_of(alpha, part),
                rows_of(beta, part),
                absent[part],
                present[part],
                active[part],
                dtype,
            )
            for part in (slice(r, r + step) for r in range(0, n_rows, step))
        ],
        axis=0,
    )


def _stack_tables(priors: list, causes: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The priors', alphas' and betas' tables (each ``(1|R, entries)``), side by side in workspace
    order and transposed: ``(entries, 1|R)``."""

    def stack(tables: list[np.ndarray]) -> np.ndarray:
        if not tables:
            return np.zeros((0, 1))
        rows = max(t.shape[0] for t in tables)
        if any(t.shape[0] != rows for t in tables):
            tables = [np.broadcast_to(t, (rows, t.shape[-1])) for t in tables]
        return np.ascontiguousarray(np.concatenate(tables, axis=1).T)

    return stack([a for _, a in priors]), stack([a for _, a, _ in causes]), stack([b for _, _, b in causes])


def _segment_sums(block: np.ndarray, length: int) -> np.ndarray:
    """Sums of consecutive runs of ``length`` rows of ``block (rows, N)``, each run's rows added in
    order, ``((r0 + r1) + r2) + ...``, by whole strided slices: elementwise additions, so a column's
    sums are the same whatever ``N`` (``ndarray.sum`` and ``np.add.reduceat`` may switch to pairwise
    summation when the summed axis is contiguous, as with one column)."""
    if length == 1:
        return block
    total = block[0::length] + block[1::length]
    for k in range(2, length):
        total += block[k::length]
    return total


STRIDED = "strided"  # an operand's layout in a step's union: see _operand_layout


def _operand_layout(order: np.ndarray, size: int, repeats: int) -> np.ndarray | str | None:
    """How an operand's entries lie in a step's union (``order``: union entries grouped by the operand's
    entry, each group in union order): ``None`` if each entry owns a run of consecutive union entries,
    :data:`STRIDED` if union entry ``k * size + e`` belongs to entry ``e``, else ``order`` itself."""
    union = np.arange(len(order))
    if (order == union).all():
        return None
    if (order.reshape(size, repeats) == union.reshape(repeats, size).T).all():
        return STRIDED
    return order


def _operand_sums(block: np.ndarray, layout: np.ndarray | str | None, size: int, repeats: int) -> np.ndarray:
    """For each of an operand's ``size`` entries, the sum of the rows of ``block`` (over the step's
    union) that it gives, added in union order whatever the layout (so the same numbers as gathering
    by ``order`` first); the first two layouts need no gather."""
    if layout is None:
        return _segment_sums(block, repeats)
    if isinstance(layout, str):
        if repeats == 1:
            return block
        total = block[:size] + block[size : 2 * size]
        for k in range(2, repeats):
            total += block[k * size : (k + 1) * size]
        return total
    return _segment_sums(block[layout], repeats)


def _cause_entries(
    packed: _Packed, alpha: np.ndarray, beta: np.ndarray, absent: np.ndarray, present: np.ndarray
) -> np.ndarray:
    """Every cause factor's entries ``g = alpha * absent + beta * present`` over the columns:
    ``alpha``, ``beta`` ``(entries, 1|columns)``, the multipliers ``absent``, ``present`` ``(C, columns)``.
    When every absent multiplier is 1 (only ORDERED findings require a cause present) its gather is
    skipped: ``alpha * 1`` is ``alpha``, so the numbers are the same."""
    owner = packed.cause_of_entry
    if (absent == 1).all():
        return alpha + beta * present[owner]
    return alpha * absent[owner] + beta * present[owner]


def _forward(packed: _Packed, work: np.ndarray) -> list[np.ndarray]:
    """Run the plan's steps on ``work`` (its initial factors filled in), each output written to its
    rows: per step one gather, one product over the operands and one sum. Returns each step's
    gathered operands ``(operands, union entries, columns)``, which the reverse pass reuses."""
    saved = []
    for gather, card, out_start, out_size, _, _ in packed.steps:
        expanded = work[gather]
        product = expanded[0] if len(gather) == 1 else np.multiply.reduce(expanded, axis=0)
        work[out_start : out_start + out_size] = _segment_sums(product, card)
        saved.append(expanded)
    return saved


def _eliminate_columns(
    packed: _Packed,
    priors: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    absent: np.ndarray,
    present: np.ndarray,
    active: np.ndarray,
    dtype: type,
) -> np.ndarray:
    n_rows, n_terms, n_causes = present.shape
    n = n_rows * n_terms

    def spread(table: np.ndarray) -> np.ndarray:
        """``(entries, 1|R)`` over the columns: broadcast, or each row repeated for its terms."""
        return table if table.shape[1] == 1 else np.repeat(table, n_terms, axis=1)

    work = np.empty((packed.width, n), dtype=dtype)
    work[: packed.cause_start] = spread(priors)
    beta = spread(beta)
    present_cols = present.reshape(n, n_causes).T
    work[packed.cause_start : packed.cause_end] = _cause_entries(
        packed, spread(alpha), beta, absent.reshape(n, n_causes).T, present_cols
    )
    saved = _forward(packed, work)

    # the factors left at the end multiply into Z; each one's cavity is the product of the others
    # (prefix times suffix), and the cavities flow back through the steps
    last = work[packed.final]
    ones = np.ones((1, n), dtype=dtype)
    prefix = np.concatenate([ones, np.cumprod(last, axis=0)])
    suffix = np.concatenate([np.cumprod(last[::-1], axis=0)[::-1][1:], ones])
    grad = np.empty_like(work)
    grad[packed.final] = prefix[:-1] * suffix
    for (_, card, out_start, out_size, operands, out_needed), expanded in zip(reversed(packed.steps), reversed(saved)):
        if not out_needed:  # only priors below: no cause's cavity comes through here
            continue
        spread = np.repeat(grad[out_start : out_start + out_size], card, axis=0)  # d(sum)/d(product) = 1
        # each operand's cavity: spread times the product of the other operands (running products
        # from both ends; np.cumprod over the operand axis is several times slower)
        cavities = [spread]
        for k in range(1, len(operands)):
            cavities.append(cavities[-1] * expanded[k - 1])
        after = None
        for k in range(len(operands) - 1, -1, -1):
            if after is not None:
                cavities[k] = cavities[k] * after
            if k:
                after = expanded[k] if after is None else after * expanded[k]
        for (start, size, order, repeats, needed), cavity in zip(operands, cavities):
            if needed:  # every entry the operand gives the union, summed back into that entry
                grad[start : start + size] = _operand_sums(cavity, order, size, repeats)

    # sum over a cause's entries of cavity * beta; its present and activating multipliers are scalars
    scaled = grad[packed.cause_start : packed.cause_end] * beta
    weighted = np.empty((n_causes, n), dtype=dtype)
    for size, entries, causes in packed.cause_groups:
        weighted[causes] = _segment_sums(scaled[entries], size)
    result = np.empty((1 + 2 * n_causes, n), dtype=dtype)
    result[0] = prefix[-1]
    result[1 : 1 + n_causes] = weighted * present_cols
    result[1 + n_causes :] = weighted * active.reshape(n, n_causes).T
    return result.T.reshape(n_rows, n_terms, 1 + 2 * n_causes)


def _eliminate_clamped(
    packed: _Packed,
    priors: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray,
    absent: np.ndarray,
    present: np.ndarray,
    active: np.ndarray,
    dtype: type,
) -> np.ndarray:
    """What :func:`_eliminate_columns` returns, for one row with a small elimination, by forward passes:
    per term, ``Z`` once as it is and once with each cause's factor clamped to its present part
    (``g_c -> beta_c``). ``Z`` is linear in ``g_c``, so the clamped ``Z`` is the cavity summed
    against ``beta_c`` that the reverse pass computes. It costs ``1 + C`` forward passes per term
    instead of about three, but in a tenth of the numpy calls, which is what one patient's query
    pays for (see ``CLAMPED_MAX_ENTRIES``). Each column's arithmetic is fixed by the plan alone."""
    _, n_terms, n_causes = present.shape
    clamps = 1 + n_causes
    owner = packed.cause_of_entry
    n_entries = packed.cause_end - packed.cause_start
    g = _cause_entries(packed, alpha, beta, absent[0].T, present[0].T)  # (cause entries, terms)
    work = np.empty((packed.width, n_terms, clamps), dtype=dtype)
    work[: packed.cause_start] = priors[:, :, None]
    work[packed.cause_start : packed.cause_end] = g[:, :, None]
    # clamp column 1 + c: every entry of cause c's factor is its present part
    work[packed.cause_start + np.arange(n_entries), :, 1 + owner] = beta
    work = work.reshape(packed.width, n_terms * clamps)
    _forward(packed, work)
    last = work[packed.final]
    z = last[0].copy()
    for k in range(1, len(last)):  # in order, as the reverse pass's running product
        z *= last[k]
    z = z.reshape(n_terms, clamps)
    result = np.empty((1, n_terms, 1 + 2 * n_causes), dtype=dtype)
    result[0, :, 0] = z[:, 0]
    result[0, :, 1 : 1 + n_causes] = z[:, 1:] * present[0]
    result[0, :, 1 + n_causes :] = z[:, 1:] * active[0]
    return result


@dataclass(frozen=True)
class _Packed:
    """A plan laid out on one workspace of ``width`` rows: initial factors first (priors, then causes
    from ``cause_start`` to ``cause_end``), then each step's output. Per step: ``(gather (operands,
    union entries)`` of workspace rows, card of the summed variable, output start, output size, per
    operand ``(start, size, layout of its entries in the union (see :func:`_operand_layout`), group
    length, whether its cavity is needed)``, and whether the output's cavity is needed: only causes'
    are)``. ``final``: rows of the factors left at the end (one entry each); ``cause_of_entry``: the
    cause each cause-factor row belongs to; ``cause_groups``: per number of entries ``m``, the causes
    whose factors have ``m`` entries and those entries' rows, cause by cause, counted from
    ``cause_start`` (see :func:`_cause_groups`). ``kernel_*``: the same steps as flat int64 tables
    for the compiled kernels (:mod:`numbdx._numba_kernels`): per step ``(operands, union entries,
    card, output start, output size, output's cavity needed, offset in kernel_gather, offset in
    kernel_operands)``; the gathers one after another, operand by operand; per operand ``(start,
    size, cavity needed)``.

    Every sum over rows adds whole rows in a fixed order (:func:`_segment_sums`), never through
    ``ndarray.sum`` or ``np.add.reduceat``: those switch to pairwise summation when the summed axis is
    contiguous (one column: one patient with one term), so a row alone and in a batch would differ in
    the last bits."""

    width: int
    cause_start: int
    cause_end: int
    cause_of_entry: np.ndarray
    cause_groups: tuple[tuple[int, np.ndarray, np.ndarray], ...]
    steps: tuple
    final: np.ndarray
    kernel_steps: np.ndarray
    kernel_gather: np.ndarray
    kernel_operands: np.ndarray


@dataclass(frozen=True)
class _Plan:
    """Elimination steps over compact factors. Each step: ``(operands, gathers onto the union scope,
    card of the summed variable, per operand: the permutation grouping union entries by its entry)``.
    The union scope is the output scope followed by the summed variable, so summing out is a reshape
    and a sum over the last axis; aggregating back to an operand is a gather and the same. No step
    depends on the batch size, so a row's numbers do not depend on the other rows in its batch.
    ``packed``: the same steps on one workspace (see :class:`_Packed`), which the numpy path runs."""

    steps: tuple
    final: tuple[int, ...]
    packed: _Packed


def _entries(scope: Sequence[int], cards: Sequence[int]) -> np.ndarray:
    """Multi-indices ``(entries, len(scope))`` of a table over ``scope`` in C order."""
    shape = tuple(cards[v] for v in scope)
    return np.indices(shape).reshape(len(scope), -1).T if scope else np.zeros((1, 0), dtype=np.int64)


def _index(union: Sequence[int], sub: Sequence[int], cards: Sequence[int]) -> np.ndarray:
    """For each entry of a table over ``union``, the entry of the table over ``sub`` it falls in."""
    multi = _entries(union, cards)
    columns = [union.index(v) for v in sub]
    shape = tuple(cards[v] for v in sub)
    return np.ravel_multi_index(tuple(multi[:, columns].T), shape) if sub else np.zeros(len(multi), dtype=np.int64)


# a step's operand recurs across plans (most of a patient's upper layer is eliminated alike whatever
# its observed risk factors), and its gather and order cost most of a new plan's 1.8 ms
@lru_cache(maxsize=16384)
def _gather(
    union: tuple[int, ...], sub: tuple[int, ...], cards: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | str | None]:
    """:func:`_index` of ``sub`` in ``union``, its stable argsort (the union's entries grouped by the
    operand's entry) and :func:`_operand_layout`; read-only: plans share them."""
    gather = _index(union, sub, cards)
    grouping = np.argsort(gather, kind="stable")
    size = math.prod(cards[v] for v in sub)
    layout = _operand_layout(grouping, size, len(gather) // size)
    for arr in (gather, grouping, layout):
        if isinstance(arr, np.ndarray):
            arr.flags.writeable = False
    return gather, grouping, layout


@lru_cache(maxsize=1024)
def _plan(scopes: tuple[tuple[int, ...], ...], cards: tuple[int, ...], n_priors: int) -> _Plan:
    """Steps summing out every variable of ``scopes`` (``n_priors`` priors, then one per cause)."""
    order = _elimination_order(tuple(frozenset(s) for s in scopes), frozenset().union(*map(frozenset, scopes)))
    scopes_list = list(scopes)
    alive = list(range(len(scopes)))
    steps, layouts = [], []
    for v in order:
        involved = tuple(i for i in alive if v in scopes_list[i])
        alive = [i for i in alive if i not in involved]
        out = tuple(sorted({u for i in involved for u in scopes_list[i]} - {v}))
        union = (*out, v)
        gathers, groupings, step_layouts = zip(*(_gather(union, tuple(scopes_list[i]), cards) for i in involved))
        steps.append((involved, gathers, cards[v], groupings))
        layouts.append(step_layouts)
        scopes_list.append(out)
        alive.append(len(scopes_list) - 1)
    packed = _pack(scopes, cards, n_priors, steps, alive, layouts)
    return _Plan(steps=tuple(steps), final=tuple(alive), packed=packed)


def _cause_groups(sizes: list[int]) -> tuple[tuple[int, np.ndarray, np.ndarray], ...]:
    """The causes' factors (``sizes`` consecutive rows each) grouped by size: ``(size, rows of the
    group's causes in cause order, those causes)``, so that each cause's rows sum in order with one
    gather and one :func:`_segment_sums` per size."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    groups = []
    for size in sorted(set(sizes)):
        causes = np.flatnonzero(np.array(sizes) == size)
        entries = (starts[causes][:, None] + np.arange(size)[None, :]).reshape(-1)
        groups.append((size, entries, causes))
    return tuple(groups)


def _pack(
    scopes: tuple[tuple[int, ...], ...],
    cards: tuple[int, ...],
    n_priors: int,
    steps: list,
    final: list[int],
    layouts: list[tuple[np.ndarray | str | None, ...]],
) -> _Packed:
    """The workspace layout of a plan whose initial factors have ``scopes`` (priors, then causes);
    ``layouts``: each step's operands' :func:`_operand_layout`."""
    sizes = [math.prod(cards[v] for v in scope) for scope in scopes]
    n_initial = len(scopes)
    cause_sizes = sizes[n_priors:]
    sizes += [len(gathers[0]) // card for _, gathers, card, _ in steps]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    needed = [False] * n_priors + [True] * len(cause_sizes)  # a cavity is wanted below this factor
    packed_steps = []
    for s, ((involved, gathers, card, _), step_layouts) in enumerate(zip(steps, layouts)):
        gather = np.stack([offsets[i] + np.asarray(g, dtype=np.intp) for i, g in zip(involved, gathers)])
        union = gather.shape[1]
        operands = tuple(
            (int(offsets[i]), sizes[i], layout, union // sizes[i], needed[i])
            for i, layout in zip(involved, step_layouts)
        )
        out = n_initial + s
        needed.append(any(needed[i] for i in involved))
        packed_steps.append((gather, card, int(offsets[out]), sizes[out], operands, needed[out]))
    kernel_steps, kernel_operands = [], []
    gather_at = 0
    for gather, card, out_start, out_size, operands, out_needed in packed_steps:
        n_operands, union = gather.shape
        kernel_steps.append((n_operands, union, card, out_start, out_size, out_needed, gather_at, len(kernel_operands)))
        kernel_operands.extend((start, size, needed) for start, size, _, _, needed in operands)
        gather_at += gather.size
    return _Packed(
        width=int(offsets[-1]),
        cause_start=int(offsets[n_priors]),
        cause_end=int(offsets[n_initial]),
        cause_of_entry=np.repeat(np.arange(len(cause_sizes)), cause_sizes),
        cause_groups=_cause_groups(cause_sizes),
        steps=tuple(packed_steps),
        final=offsets[final],
        kernel_steps=np.array(kernel_steps, dtype=np.int64).reshape(-1, 8),
        kernel_gather=np.concatenate([g.reshape(-1) for g, *_ in packed_steps] or [np.zeros(0)]).astype(np.int64),
        kernel_operands=np.array(kernel_operands, dtype=np.int64).reshape(-1, 3),
    )


# --- driver -----------------------------------------------------------------------------------------


def row_terms(compiled: _Compiled, findings: np.ndarray, side: int) -> float:
    """The number of terms one row's evidence expands into (``findings (F,)`` codes, ``side`` its side
    code): the side's terms times each observed finding's width. A float, as it can overflow an int."""
    (columns,) = np.nonzero(findings >= 0)
    return len(compiled.side_terms[side]) * float(np.prod(compiled.width[columns, findings[columns]], dtype=np.float64))


def _term_keys(compiled: _Compiled, codes: Codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with the same term key have the same term structure: side code and the number of positives
    of each width among gated and other findings. Returns each row's term key, each row's number of
    terms (float: it can overflow an integer), and the distinct keys."""
    rows, columns = np.nonzero(codes.findings >= 0)  # a few per row: work on those alone
    width = compiled.width[columns, codes.findings[rows, columns]]
    widths = sorted(w for w in compiled.banks if w > 1)
    # count each row's observations per (block, width) in one pass: slot = block * len + index of width
    slot_of_width = np.full(max(compiled.banks) + 1, -1, dtype=np.int64)
    slot_of_width[widths] = np.arange(len(widths))
    slot = slot_of_width[width]
    widening = slot >= 0
    slot = slot[widening] + np.where(compiled.gated, 0, len(widths))[columns[widening]]
    n_slots = 2 * len(widths)
    counts = np.bincount(rows[widening] * n_slots + slot, minlength=len(codes) * n_slots).reshape(len(codes), n_slots)
    keys, inverse = _unique_rows(np.concatenate([codes.side[:, None], counts], axis=1))
    side_sizes = np.array([len(t) for t in compiled.side_terms], dtype=np.float64)
    per_key = side_sizes[keys[:, 0]] * np.prod(np.array(widths * 2, dtype=np.float64) ** keys[:, 1:], axis=1)
    return inverse, per_key[inverse], keys


def _distinct_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the distinct rows of the 2-d ``a``: the index of one row holding each, and each row's index
    among them. Rows are compared as bytes (integers narrowed to int8 where they fit), in an order
    of their own: 10x faster than ``np.unique(axis=0)``, which compares field by field (measured on
    10,000 rows of evidence codes: 2.7 against 32 ms)."""
    if a.dtype.kind in "iu" and a.size and -128 <= a.min() and a.max() <= 127:
        a = a.astype(np.int8)
    a = np.ascontiguousarray(a)
    as_bytes = a.view(np.dtype((np.void, a.dtype.itemsize * a.shape[1]))).reshape(-1)
    _, first, inverse = np.unique(as_bytes, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of ``a`` and each row's index among them (``np.unique(axis=0)`` is slow on the
    one-row batches of ``infer``)."""
    if len(a) == 1:
        return a, np.zeros(1, dtype=np.int64)
    first, inverse = _distinct_rows(a)
    return a[first], inverse


def _plan_groups(compiled: _Compiled, codes: Codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of one group share an elimination: the same observed upper variables (context variables
    only, when risk factors enter as indicators: ``codes.shared``) and the same number of terms (term
    structures may differ within a group).
    Returns each row's group, each row's number of terms and each row's term key (for ``_sums``)."""
    if len(codes) == 1:  # one patient: one group, one key
        zero = np.zeros(1, dtype=np.int64)
        return zero, np.array([row_terms(compiled, codes.findings[0], int(codes.side[0]))]), zero
    term_key, n_terms, _ = _term_keys(compiled, codes)
    observed = codes.upper[:, list(CONTEXT)] if codes.shared else codes.upper
    context = (observed >= 0).astype(np.float64)
    _, groups = _unique_rows(np.column_stack([context, n_terms]))
    return groups, n_terms, term_key


def _sums(
    model: Model,
    compiled: _Compiled,
    codes: Codes,
    rows: np.ndarray,
    dtype: type,
    term_key: np.ndarray,
    upper_tables: _UpperTables | None = None,
    masks: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """For rows of one plan group: signed and absolute sums over terms of ``Z[r, t, j]``, term
    counts, which rows were eliminated in double-double from inputs made within double-double
    rounding (see :func:`_exact_inputs`), and the masked sums asked for. The kernels build every
    row's terms in one call per chunk; numpy builds each term structure apart and stacks them
    (:func:`_terms_by_key`). ``term_key``: the rows' term keys from :func:`_plan_groups`;
    ``upper_tables``: the upper layer's tables of ``codes``' rows, made once (frames). ``masks``:
    ``(masks (K, T), columns)`` for one row (:func:`_left_out_masks`): where the row is eliminated
    from exact inputs, the signed and absolute sums ``(K, len(columns))`` over each mask's terms,
    from the same elimination (``_kernel.masked_term_sums``), and likewise where numpy eliminates it
    (:func:`_masked_numpy_row`); else (and without ``masks``) None."""
    sub = codes.take(rows)
    n_terms = int(row_terms(compiled, sub.findings[0], int(sub.side[0])))
    exact = _exact_inputs(sub, n_terms, dtype, upper_tables)
    kernel = codes.shared or exact or n_terms >= KERNEL_MIN_TERMS  # by the rows' terms, not a slice's
    # the compiled builder makes a chunk's terms in one call whatever their structures; numpy builds
    # each structure apart (on frames, most structures have a row or two: 464 of 528 calls on
    # bench_batch's cohort had fewer than 20 rows, and took 0.23 s)
    built = None if kernel and _kernel.builds_terms(dtype) else _terms_by_key(model, compiled, sub, term_key, dtype)
    exact_factors = _exact_factors(model, compiled, sub.upper[0]) if exact else None
    if masks is not None and exact and built is None and len(rows) == 1:
        masked = _masked_row(compiled, sub, n_terms, exact_factors, masks)
        if masked is not None:
            return masked
    if masks is not None and not kernel and upper_tables is None and len(rows) == 1:
        return _masked_numpy_row(model, compiled, codes.upper[rows], built, n_terms, dtype, masks)
    on_numpy: list[np.ndarray] = []
    total = np.zeros((len(rows), 1 + 2 * len(model.causes)), dtype=dtype)
    absolute = np.zeros_like(total)
    step = max(1, CHUNK_ELEMENTS // max(1, n_terms * compiled.widest))
    # with numpy, a single row with many terms is eliminated a slice of terms at a time: the
    # temporaries then stay in cache (16,384 terms at once ran 10x slower per term). The kernels keep
    # their own blocks in cache: rows from exact inputs (the many-positive patients) go whole, which
    # spares copying each slice of their double-double terms (13 of 194 ms at 15 positives)
    term_step = n_terms if exact else max(1, TERM_CHUNK_ELEMENTS // compiled.widest)
    for start in range(0, len(rows), step):
        part = slice(start, start + step)
        if built is None:
            coef, absent, present, active = _kernel.build_terms(
                compiled.term_tables, sub.findings[part], sub.side[part], n_terms, dtype
            )
        else:
            coef, absent, present, active = (a[part] for a in built)
        upper = codes.upper[rows][part]
        factors = upper_tables.get(rows[part], dtype) if upper_tables is not None else exact_factors
        for t in (slice(t0, t0 + term_step) for t0 in range(0, n_terms, term_step)):
            numpy_rows: list[np.ndarray] = []
            signed, size = _eliminate(
                model,
                compiled,
                upper,
                absent[:, t],
                present[:, t],
                active[:, t],
                dtype,
                codes.shared,
                kernel,
                coef=coef[:, t],
                factors=factors,
                numpy_rows=numpy_rows,
            )
            total[part] += signed
            absolute[part] += size
            on_numpy.extend(np.arange(len(rows))[part][r] for r in numpy_rows)
    exact_rows = np.full(len(rows), exact)
    exact_rows[np.concatenate(on_numpy or [np.zeros(0, dtype=np.intp)])] = False
    return total, absolute, np.full(len(rows), n_terms), exact_rows, None


def _masked_numpy_row(
    model: Model,
    compiled: _Compiled,
    upper: np.ndarray,
    built: tuple[np.ndarray, ...],
    n_terms: int,
    dtype: type,
    masks: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """:func:`_sums` of one row that numpy eliminates (fewer than ``KERNEL_MIN_TERMS`` terms, not
    from exact inputs), with ``masks``: ``Z`` of each slice of terms as the unmasked call makes it,
    summed over the terms as that call sums them (the same numbers, bit for bit), and over each
    mask's terms and ``columns`` (a mask multiplies the coefficients by 1 or 0: exact). The triage's
    re-checks then come from the answer's own elimination, where each was another engine call."""
    coef, absent, present, active = built
    unit, columns = masks
    masked_coef = coef * unit.astype(coef.dtype)  # (K, T): one row's coefficients per mask
    n_columns = 1 + 2 * len(model.causes)
    total, absolute = np.zeros((1, n_columns), dtype=dtype), np.zeros((1, n_columns), dtype=dtype)
    masked_total = np.zeros((len(unit), len(columns)), dtype=dtype)
    masked_absolute = np.zeros_like(masked_total)
    step = max(1, TERM_CHUNK_ELEMENTS // compiled.widest)  # the slices _sums takes
    for t in (slice(t0, t0 + step) for t0 in range(0, n_terms, step)):
        z = _eliminate(model, compiled, upper, absent[:, t], present[:, t], active[:, t], dtype, False, False)
        signed, size = _term_sums(coef[:, t], z)
        total += signed
        absolute += size
        z_columns = np.broadcast_to(z[:, :, columns], (len(unit), *z.shape[1:2], len(columns)))
        signed, size = _term_sums(masked_coef[:, t], z_columns)
        masked_total += signed
        masked_absolute += size
    return total, absolute, np.full(1, n_terms), np.full(1, False), (masked_total, masked_absolute)


def _masked_row(
    compiled: _Compiled,
    sub: Codes,
    n_terms: int,
    exact_factors: tuple[_Plan, tuple[_kernel.DoubleDouble, ...]],
    masks: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]] | None:
    """:func:`_sums` of one row from exact inputs with ``masks``: the row's sums as the unmasked call
    makes them, bit for bit (one kernel call over every term), with the masked sums; None where the
    kernel leaves the row to numpy (below ``_kernel.TINY``), which the unmasked path then handles."""
    coef, absent, present, active = _kernel.build_terms(
        compiled.term_tables, sub.findings, sub.side, n_terms, np.longdouble
    )
    plan, tables = exact_factors
    done = _kernel.masked_term_sums(plan.packed, (*tables, absent, present, active), coef, *masks)
    if done is None or len(done[2]):
        return None
    total, absolute, _, masked_total, masked_absolute = done
    return total, absolute, np.full(1, n_terms), np.full(1, True), (masked_total, masked_absolute)


def _exact_inputs(sub: Codes, n_terms: int, dtype: type, upper_tables: _UpperTables | None) -> bool:
    """Whether ``sub``'s rows (one plan group) are eliminated from inputs made within double-double
    rounding, in double-double: extended precision on the kernels, with the terms built compiled
    (double-double) and the upper layer's tables made exactly (:func:`_exact_factors`), which one
    patient's context allows (rows of one context: ``infer``, the triage's and the value of
    information's batches). Their bound then counts in ``_kernel.DOUBLE_DOUBLE_EPS``, about 2**-100,
    where ``np.longdouble``'s is 2**-63: exact answers stay within the target however much many
    positives cancel. Frames (shared plans, many contexts) keep ``np.longdouble`` tables.

    Whatever the row's terms: a small query in extended precision (four signed positives or more,
    ``SIGNED_FOR_EXTENDED``, or a float64 bound past ``TARGET_ERROR``) runs 3-4x faster so than in
    numpy's ``np.longdouble`` (three article cases of 32-64 terms: 6.7-13 ms on numpy, 2.0-4.5 ms
    so, their context's tables cached). Whether numba is imported here depends on the installation
    alone (a float64 query never asks), so an answer does not depend on what the process did
    before."""
    return (
        not sub.shared
        and _kernel.double_double(dtype)
        and upper_tables is None
        and bool((sub.upper == sub.upper[0]).all())
    )


def _exact_tables(model: Model) -> RowTables:
    """The model's upper-layer tables and causes' probabilities as exact rationals (one row), for
    :func:`_factors` (computed once per model)."""
    cached = model.__dict__.get("_exact_tables")
    if cached is None:
        exact = np.vectorize(lambda v: Fraction(float(v)), otypes=[object])
        cached = model.__dict__["_exact_tables"] = RowTables(
            upper=[exact(v.table)[None] for v in model.upper],
            p_present=[exact(c.p_present)[None] for c in model.causes],
            activation=exact(model.activation)[None],
            side_subset=exact(model.findings[model.side_index].subset_mult)[None],
            link=np.zeros((1, 0, 0)),  # unused here: _factors reads the upper layer's tables alone
            leak=np.zeros((1, 0)),
        )
    return cached


def _exact_factors(
    model: Model, compiled: _Compiled, upper: np.ndarray
) -> tuple[_Plan, tuple[_kernel.DoubleDouble, ...]]:
    """The plan and :func:`_stack_tables` of one context's upper layer (``upper (U,)``), made in exact
    rationals (3.0 ms on average over 16 contexts; most of it Fraction arithmetic) and each entry
    rounded once to a double-double (:func:`_double_double_parts`), within 2**-106 of it; kept in
    the model's factor cache."""
    cache = model.__dict__.setdefault("_factor_cache", {})
    key = (upper.tobytes(), "exact", False)
    built = cache.get(key)
    if built is None:
        if len(cache) >= FACTOR_CACHE_SIZE:
            cache.clear()
        plan, priors, causes = _factors(model, compiled, upper[None], object, _exact_tables(model))
        tables = []
        for table in _stack_tables(priors, causes):
            parts = [_double_double_parts(v) for v in table.reshape(-1)]
            high, low = (np.array([part[i] for part in parts]).reshape(table.shape) for i in (0, 1))
            tables.append(_kernel.DoubleDouble(np.stack([high, low])))
        built = cache[key] = (plan, tuple(tables))
    return built


def _double_double_parts(value: Fraction | int) -> tuple[float, float]:
    """``value`` rounded once to a double-double: its nearest float64, then the nearest float64 to the
    rest. Integer true division rounds correctly in Python, as ``float(Fraction)`` does, without the
    Fraction arithmetic (most of :func:`_exact_factors`' time)."""
    value = Fraction(value)
    n, d = value.numerator, value.denominator
    high = n / d
    h_n, h_d = high.as_integer_ratio()
    return high, (n * h_d - h_n * d) / (d * h_d)


def _terms_by_key(
    model: Model, compiled: _Compiled, sub: Codes, term_key: np.ndarray, dtype: type
) -> tuple[np.ndarray, ...]:
    """The terms of ``sub``'s rows with numpy: each term structure (``term_key``) built apart, then
    stacked in row order."""
    if (term_key == term_key[0]).all():
        return _group_terms(model, compiled, sub.findings, int(sub.side[0]), dtype)
    built = None
    for k in np.unique(term_key):
        members = np.flatnonzero(term_key == k)
        parts = _group_terms(model, compiled, sub.findings[members], int(sub.side[members[0]]), dtype)
        if built is None:
            built = [np.empty((len(sub), *a.shape[1:]), dtype=a.dtype) for a in parts]
        for target, a in zip(built, parts):
            target[members] = a
    return tuple(built)


METHODS = ("auto", "exact", "sampling")


def infer_codes(
    model: Model,
    codes: Codes,
    *,
    with_prior: bool = True,
    method: str = "auto",
    target_error: float = TARGET_ERROR,
    shared_plans: bool = False,
    left_out: LeftOut | None = None,
) -> Answer:
    """Posteriors for every row of ``codes``; ``with_prior=False`` skips the prior given the context
    (left NaN). Identical rows are computed once.

    ``method``: ``"exact"`` (see the module docstring; rows past its limit fail with
    ``InferenceLimitError``), ``"auto"`` (exact, and importance sampling with an error bound for the
    rows past the exact limit; see ``_sampling``), ``"sampling"`` (importance sampling for every row
    with positive findings: to check it against exact answers). ``target_error``: the rounding bound
    below which a float64 answer is accepted without extended precision (at most ``MAX_ERROR``; the
    value of information, which differences entropies, needs far less than ``infer``'s 1e-9).
    ``shared_plans``: risk factors enter as indicators rather than being selected, so rows that
    observe different risk factors share one elimination: far fewer, larger batches for many
    patients (``infer_frame``), each row's numbers still independent of its batch; for one patient,
    selecting is faster (``infer``). The two agree to rounding (well within the error bound).
    ``left_out`` (one row only): sets of findings to answer without, from the row's own elimination
    where it runs in double-double from exact inputs (``Answer.left_out``; the triage's re-checks);
    the row's own numbers are the same with or without it.
    """
    if left_out is not None and len(codes) != 1:
        raise ValueError(f"left_out is for one row, got {len(codes)} rows")
    if shared_plans and not codes.shared:
        codes = Codes(codes.upper, codes.findings, codes.side, True)
    if not 0 < target_error <= MAX_ERROR:
        raise ValueError(f"target_error must be in (0, {MAX_ERROR:g}], got {target_error!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if ((codes.side == ANYTHING)[:, None] & (codes.findings >= 0) & compiled_gated(model)[None, :]).any():
        # a gated finding's leak acts "with leg numbness present"; with the chief complaint unknown
        # the terms would be wrong (evidence from numbdx.infer always knows or assumes it)
        raise ValueError("rows with leg numbness unknown (side code ANYTHING) cannot carry gated findings")
    stacked = np.concatenate([codes.upper, codes.findings, codes.side[:, None]], axis=1)
    if len(stacked) == 1:
        return _infer_unique(model, codes, with_prior, method, target_error, left_out)
    first, inverse = _distinct_rows(stacked)
    if len(first) < len(stacked):
        answer = _infer_unique(model, codes.take(first), with_prior, method, target_error)
        return Answer(
            posterior=answer.posterior[inverse],
            explains=answer.explains[inverse],
            prior=answer.prior[inverse],
            evidence_probability=answer.evidence_probability[inverse],
            error_bound=answer.error_bound[inverse],
            terms=answer.terms[inverse],
            failure=[answer.failure[i] for i in inverse],
            method=answer.method[inverse],
        )
    return _infer_unique(model, codes, with_prior, method, target_error)


def _reexpand(compiled: _Compiled, codes: Codes, rows: np.ndarray) -> Codes:
    """The rows' positive findings re-coded as ORDERED (no cancellation), rarest first, while the
    number of terms stays within a quarter of MAX_TERMS."""
    findings = codes.findings[rows].copy()
    for k in range(len(rows)):
        n_terms = row_terms(compiled, findings[k], int(codes.side[rows[k]]))
        for f in sorted(np.flatnonzero(findings[k] == 1), key=lambda f: compiled.p_on[f]):
            before, after = compiled.width[f, 1], compiled.width[f, ORDERED]
            if after > before and n_terms / before * after <= MAX_TERMS // 4:
                findings[k, f] = ORDERED
                n_terms = n_terms / before * after
    return codes.take(rows, findings)


def _signed_rare(compiled: _Compiled, codes: Codes) -> Codes:
    """``codes`` with rare positives of some rows re-coded SIGNED: rows past ``MAX_TERMS`` because
    their rare positives are expanded without cancellation (a term per cause: only those with three
    causes or more gain), which fit when some take two terms instead, and which are then eliminated
    from exact inputs (one
    patient on the kernels in double-double, from at least ``KERNEL_MIN_TERMS`` terms:
    :func:`_exact_inputs`), whose bound allows the cancellation: a rare finding's ``1 - P(off)`` loses
    about ``1 / P(on)``, so the most probable are re-coded first, and no more than needed. Other rows,
    and frames, keep their codes."""
    if codes.shared:
        return codes
    # a rare positive whose ordered expansion is no wider than the signed one gains nothing
    narrower = compiled.width[:, SIGNED] < compiled.width[:, 1]
    rare = (codes.findings == 1) & ~compiled.signed[None, :] & narrower[None, :]
    past = [
        r
        for r in np.flatnonzero(rare.any(axis=1))
        if row_terms(compiled, codes.findings[r], int(codes.side[r])) > MAX_TERMS
    ]
    # asked last: the kernels' module imports numba, which a small query must not pay
    if not past or not _kernel.double_double(np.longdouble):
        return codes
    findings = codes.findings.copy()
    for r in past:
        side = int(codes.side[r])
        recoded = findings[r].copy()
        for f in sorted(np.flatnonzero(rare[r]), key=lambda f: -compiled.p_on[f]):
            recoded[f] = SIGNED
            if row_terms(compiled, recoded, side) <= MAX_TERMS:
                break
        if KERNEL_MIN_TERMS <= row_terms(compiled, recoded, side) <= MAX_TERMS:
            findings[r] = recoded
    return Codes(codes.upper, findings, codes.side, codes.shared)


def _ops(model: Model, findings: np.ndarray) -> np.ndarray:
    """The rounding-bound's operation count per row of ``findings`` ``(R, F)`` codes (or one row)."""
    return 4 * (len(model.causes) + len(model.upper) + (findings >= 0).sum(axis=-1) + 8)


def _rounding_eps(dtype: type) -> float:
    """The unit of the rounding bound in ``dtype``: its ``eps``, and for extended precision at least
    double-double's, which the kernels run in its place. On x86 that changes nothing (``np.longdouble``
    has 64 bits, double-double about 104); where ``np.longdouble`` is IEEE quad (113 bits: aarch64
    Linux), the kernels' answers are less precise than its ``eps`` says."""
    eps = float(np.finfo(dtype).eps)
    return max(eps, _kernel.DOUBLE_DOUBLE_EPS) if dtype is np.longdouble else eps


def _bounded(
    total: np.ndarray, absolute: np.ndarray, eps_ops: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From the signed and absolute sums over terms ``(R, J)`` (column 0 ``P(e)``, the others each
    quantity's joint probability) and ``eps * ops`` per row: whether ``P(e)`` is above its own rounding
    error, each quantity's ratio to ``P(e)`` ``(R, J - 1)``, and each row's bound on the ratios' error,
    ``max_j eps * ops * (sum|t_j| + ratio_j * sum|t_0|) / P(e)`` (meaningless where not ok)."""
    eps_ops = np.broadcast_to(np.asarray(eps_ops, dtype=np.float64), total.shape[:1])[:, None]
    p_e = total[:, :1]
    ok = p_e[:, 0] > eps_ops[:, 0] * absolute[:, 0]
    safe = np.where(ok[:, None], p_e, 1)
    ratios = total[:, 1:] / safe
    bound = np.max(eps_ops * (absolute[:, 1:] + ratios * absolute[:, :1]) / safe, axis=1, initial=0.0)
    return ok, ratios, bound


def _merged_positives(compiled: _Compiled, findings: np.ndarray) -> np.ndarray:
    """Per row of ``findings (R, F)`` codes (or one row): its positives expanded in order, each with
    one term whose multiplier is a rounded sum (see :data:`MERGED_ROUNDING`)."""
    ordered = (findings == ORDERED) | ((findings == 1) & ~compiled.signed)
    return (ordered & compiled.has_cause).sum(axis=-1)


def _bounded_in(
    total: np.ndarray,
    absolute: np.ndarray,
    ops: np.ndarray | float,
    dtype: type,
    exact: np.ndarray | bool,
    merged: np.ndarray | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_bounded` in the unit of each row's arithmetic: ``dtype``'s (:func:`_rounding_eps`), or
    for rows from exact inputs (``exact``, see :func:`_exact_inputs`) double-double's. Their sums reach
    numpy rounded to ``dtype``, so each ratio (at most 1) carries up to three such roundings, relative
    to the sums rather than to ``sum|t|``: ``2 eps`` more covers them. ``merged``: each row's
    positives expanded in order (:func:`_merged_positives`), whose first term's multiplier was
    rounded in float64: ``MERGED_ROUNDING`` more each, whatever the arithmetic."""
    eps = _rounding_eps(dtype)
    ok, ratios, bound = _bounded(total, absolute, np.where(exact, _kernel.DOUBLE_DOUBLE_EPS, eps) * ops)
    return ok, ratios, np.where(exact, bound + 2 * eps, bound) + MERGED_ROUNDING * merged


def _extended_first(compiled: _Compiled, findings: np.ndarray, target_error: float) -> np.ndarray:
    """Which rows of ``findings (R, F)`` start in extended precision: those with many positives under
    Quickscore's signed expansion would almost never meet the float64 bound, so a float64 pass first
    would be wasted. A looser target (the triage's 1e-6, the value of information's 1e-7) moves the
    threshold up by a positive per SIGNED_BOUND_GROWTH of the target."""
    signed = (((findings == 1) & compiled.signed[None, :]) | (findings == SIGNED)).sum(axis=1)
    looser = max(0.0, float(np.log(target_error / TARGET_ERROR) / np.log(SIGNED_BOUND_GROWTH)))
    return signed >= SIGNED_FOR_EXTENDED + round(looser)


def _solve(
    model: Model,
    compiled: _Compiled,
    codes: Codes,
    out: dict[str, np.ndarray],
    failure: list,
    target_error: float = TARGET_ERROR,
    upper_tables: _UpperTables | None = None,
    left_out: LeftOut | None = None,
) -> np.ndarray:
    """Fill ``out`` (posteriors, evidence probability, error bound, terms) for every row of ``codes``
    that can be answered; set ``failure`` for the others; return the rows that lost precision.
    ``upper_tables``: see :func:`_sums`. ``left_out`` (one row): where the row is eliminated in
    double-double from exact inputs, ``out["left_out"]`` receives each set's answer from the same
    elimination (see :class:`Answer`)."""
    ops = _ops(model, codes.findings)
    merged = _merged_positives(compiled, codes.findings)
    groups, terms_of_row, term_key = _plan_groups(compiled, codes)
    extended_first = _extended_first(compiled, codes.findings, target_error)
    imprecise = []
    for g in np.unique(groups) if len(groups) > 1 else groups:
        members = np.flatnonzero(groups == g)
        n_terms = terms_of_row[members[0]]
        if n_terms > MAX_TERMS:
            n_terms = int(n_terms) if n_terms < 2**62 else n_terms
            error = InferenceLimitError(
                f"this evidence needs {n_terms} exact-inference terms (more than {MAX_TERMS}); "
                "give fewer positive findings in one query"
            )
            for r in members:
                failure[r] = error
            continue
        carried = members[extended_first[members]]
        pending = members[~extended_first[members]]
        row_masks: list = []  # the row's left-out masks, made on the first pass that may read them
        for dtype in (np.float64, np.longdouble):
            if dtype is np.longdouble:
                pending = np.concatenate([pending, carried])
            if not len(pending):
                continue
            masks = None
            # where the masks may run: numpy's float64 pass (below the kernels' terms), and extended
            # precision (from exact inputs, or numpy's)
            if left_out is not None and len(codes) == 1 and (dtype is np.longdouble or n_terms < KERNEL_MIN_TERMS):
                if not row_masks:
                    unit = _left_out_masks(compiled, codes.findings[0], int(codes.side[0]), left_out.subsets, 1)
                    columns = _left_out_columns(left_out.causes, len(model.causes))
                    row_masks.append(None if unit is None else (unit, columns))
                masks = row_masks[0]
            total, absolute, n, exact, masked = _sums(
                model, compiled, codes, pending, dtype, term_key[pending], upper_tables, masks
            )
            if masked is not None:  # extended precision's, where it runs, replace float64's
                out["left_out"] = [
                    _left_out_row(
                        *sums, float(ops[0]), dtype, bool(exact[0]), int(merged[0]), left_out, len(model.causes)
                    )[0]
                    for sums in zip(*masked)
                ]
            p_e = total[:, 0]
            ok, ratios, bound = _bounded_in(total, absolute, ops[pending], dtype, exact, merged[pending])
            done = ok & (bound <= target_error) if dtype is np.float64 else ok & (bound <= MAX_ERROR)
            rows = pending[done]
            out["posterior"][rows] = np.clip(ratios[done].astype(np.float64), 0.0, 1.0)
            out["evidence_probability"][rows] = p_e[done]
            out["error_bound"][rows] = bound[done]
            out["terms"][rows] = n[done]
            zero = (absolute[:, 0] == 0) & ~done  # every term is zero: no cancellation, truly impossible
            for r in pending[zero]:
                failure[r] = ImpossibleEvidenceError(
                    "the model gives this evidence probability zero (no combination of causes explains it)"
                )
            left = ~done & ~zero
            if dtype is np.float64 and left.any():  # asked only then: exact inputs import numba
                # extended precision gains eps64 / eps_ld (about 2,000x; far more from exact inputs):
                # rows it cannot bring under MAX_ERROR skip it (it is slow) and go straight to the
                # cancellation-free expansion
                exact_next = _exact_inputs(codes.take(pending), int(n_terms), np.longdouble, upper_tables)
                extended = _kernel.DOUBLE_DOUBLE_EPS if exact_next else _rounding_eps(np.longdouble)
                hopeful = ok & (bound * extended / _rounding_eps(np.float64) <= MAX_ERROR)
                imprecise.extend(pending[left & ~hopeful].tolist())
                left &= hopeful
            else:
                imprecise.extend(pending[left].tolist())
            pending = pending[left]
    return np.array(imprecise, dtype=np.int64)


def _infer_unique(
    model: Model,
    codes: Codes,
    with_prior: bool,
    method: str,
    target_error: float = TARGET_ERROR,
    left_out: LeftOut | None = None,
) -> Answer:
    compiled = _compile(model)
    n_rows, n_causes = len(codes), len(model.causes)
    out = {
        "posterior": np.full((n_rows, 2 * n_causes), np.nan),
        "evidence_probability": np.full(n_rows, np.nan),
        "error_bound": np.full(n_rows, np.nan),
        "terms": np.zeros(n_rows, dtype=np.int64),
    }
    failure: list[Exception | None] = [None] * n_rows
    used = np.full(n_rows, "exact", dtype=object)
    by_choices = _by_choices(compiled, codes) if method != "sampling" else np.zeros(n_rows, dtype=bool)
    if by_choices.any():
        # many positives: eliminated over the findings' choices; the others as below
        from . import _choice_elimination  # imports this module

        rows = np.flatnonzero(by_choices)
        _choice_elimination.solve(model, codes, rows, out, failure, left_out)
        rest = np.flatnonzero(~by_choices)
        if len(rest):
            _take_answer(out, failure, used, rest, _infer_unique(model, codes.take(rest), False, method, target_error))
        if method == "auto":
            refused = [r for r in rows if isinstance(failure[r], InferenceLimitError)]
            _sample(model, compiled, codes, np.array(refused, dtype=np.int64), out, failure, used)
        return _finish(model, compiled, codes, with_prior, out, failure, used)
    sampled = np.flatnonzero((codes.findings >= 1).any(axis=1)) if method == "sampling" else ()
    if len(sampled):
        # every row with a positive finding is sampled; the others are exact at once
        exact_rows = np.setdiff1d(np.arange(n_rows), sampled)
        if len(exact_rows):
            sub = _infer_unique(model, codes.take(exact_rows), False, "exact", target_error)
            _take_answer(out, failure, used, exact_rows, sub)
        _sample(model, compiled, codes, sampled, out, failure, used)
        return _finish(model, compiled, codes, with_prior, out, failure, used)
    # frames: the upper layer's tables once for all rows (one patient's are cached by context instead)
    upper_tables = _UpperTables(model, compiled, codes.upper) if codes.shared and n_rows > 1 else None
    # the exact codes; sampling below keeps the codes as given, whose hash seeds it (the same evidence,
    # the same numbers, in infer and infer_frame)
    solved = _signed_rare(compiled, codes)
    imprecise = _solve(model, compiled, solved, out, failure, target_error, upper_tables, left_out)
    if len(imprecise):  # expand their positives without cancellation, as far as the term budget allows
        retry = _reexpand(compiled, solved, imprecise)
        sub = {k: v[imprecise] for k, v in out.items() if k != "left_out"}
        sub_failure: list[Exception | None] = [None] * len(imprecise)
        still = _solve(
            model, compiled, retry, sub, sub_failure, target_error, upper_tables and upper_tables.subset(imprecise)
        )
        for k, v in sub.items():
            out[k][imprecise] = v
        for j, r in enumerate(imprecise):
            failure[r] = sub_failure[j]
        for j in still:
            failure[imprecise[j]] = InferenceLimitError(
                "exact inference lost precision on this evidence (error bound above "
                f"{MAX_ERROR:g} even in extended precision and with the positives expanded without "
                "cancellation as far as the term budget allows); give fewer positive findings"
            )
    if method == "auto":
        past_limit = np.array([isinstance(e, InferenceLimitError) for e in failure], dtype=bool)
        _sample(model, compiled, codes, np.flatnonzero(past_limit), out, failure, used)
    return _finish(model, compiled, codes, with_prior, out, failure, used, upper_tables)


def _take_answer(out: dict[str, np.ndarray], failure: list, used: np.ndarray, rows: np.ndarray, sub: Answer) -> None:
    """Copy ``sub`` (the answer for ``rows`` of a batch, without priors) into the batch's ``out``,
    ``failure`` and ``used``."""
    out["posterior"][rows] = np.concatenate([sub.posterior, sub.explains], axis=1)
    for key in ("evidence_probability", "error_bound", "terms"):
        out[key][rows] = getattr(sub, key)
    for j, r in enumerate(rows):
        failure[r], used[r] = sub.failure[j], sub.method[j]


def _by_choices(compiled: _Compiled, codes: Codes) -> np.ndarray:
    """``(R,)`` bool: the rows eliminated over their findings' choices (``_choice_elimination``)
    rather than by Quickscore: those whose terms are more than ``CHOICES_FROM_TERMS`` (on the
    kernels ``CHOICES_FROM_TERMS_KERNEL``), and those with more positives of more than one term than
    Quickscore is tried on (:func:`auto_exact_positives`: it would miss the precision guard or take
    longer than sampling). Asks for the kernels only where some row is past the lower bound."""
    # as row_terms and _expanding_positives, from the positives alone (a negative is one term):
    # gathering every (row, finding) cost 2.6 us a row, a tenth of a typical frame row's answer
    rows, columns = np.nonzero(codes.findings >= 1)
    width = compiled.width[columns, codes.findings[rows, columns]]
    side_terms = np.array([len(t) for t in compiled.side_terms], dtype=np.float64)
    terms = side_terms[codes.side]
    np.multiply.at(terms, rows, width.astype(np.float64))
    expanding = np.bincount(rows[width > 1], minlength=len(codes.findings))
    past = (terms > CHOICES_FROM_TERMS) | (expanding > AUTO_EXACT_POSITIVES)
    if past.any() and _kernel.active() == "numba":
        limit = auto_exact_positives(codes.shared)
        past = terms > CHOICES_FROM_TERMS_KERNEL
        if limit is not None:
            past |= expanding > limit
    return past


def _expanding_positives(compiled: _Compiled, findings: np.ndarray) -> np.ndarray:
    """Per row of ``findings (R, F)`` codes: its positives of more than one term each (the ones that
    multiply the terms)."""
    columns = np.arange(findings.shape[1])
    width = compiled.width[columns, np.maximum(findings, 0)]
    return ((findings >= 1) & (width > 1)).sum(axis=1)


def auto_exact_positives(shared: bool = False) -> int | None:
    """The most positive findings of more than one term a row may have and still go to Quickscore
    (more go to the elimination over the findings' choices, :func:`_by_choices`):
    ``AUTO_EXACT_POSITIVES``, or on the compiled kernels ``AUTO_EXACT_POSITIVES_KERNEL``; None (the
    terms alone decide) where one patient's extended precision runs from exact inputs
    (:func:`_exact_inputs`; not for frames, ``shared``)."""
    if _kernel.active() != "numba":
        return AUTO_EXACT_POSITIVES
    if not shared and _kernel.double_double(np.longdouble):
        return AUTO_EXACT_POSITIVES_EXACT_INPUTS
    return AUTO_EXACT_POSITIVES_KERNEL


def _sample(
    model: Model, compiled: _Compiled, codes: Codes, rows: np.ndarray, out: dict, failure: list, used: np.ndarray
) -> None:
    """Importance sampling (``_sampling``) for ``rows``, one at a time."""
    from ._sampling import METHOD, sample_row

    for r in rows:
        try:
            posterior, p_e, bound, n = sample_row(
                model, compiled, codes.upper[r], codes.findings[r], int(codes.side[r])
            )
        except (InferenceLimitError, ImpossibleEvidenceError) as exc:
            failure[r] = exc
            continue
        out["posterior"][r] = posterior
        out["evidence_probability"][r] = p_e
        out["error_bound"][r] = bound
        out["terms"][r] = n
        failure[r] = None
        used[r] = METHOD


def _finish(
    model: Model,
    compiled: _Compiled,
    codes: Codes,
    with_prior: bool,
    out: dict,
    failure: list,
    used: np.ndarray,
    upper_tables: _UpperTables | None = None,
) -> Answer:
    n_rows, n_causes = len(codes), len(model.causes)
    posterior, evidence_probability = out["posterior"], out["evidence_probability"]
    error_bound, terms = out["error_bound"], out["terms"]

    prior = np.full((n_rows, n_causes), np.nan)
    cache = model.__dict__.setdefault("_prior_cache", {})
    key = (codes.upper[0].tobytes(), codes.shared) if with_prior and n_rows == 1 else None
    if key is not None and key in cache:  # one patient: the prior depends on the context alone
        prior[0] = cache[key]
    elif with_prior:  # given the context and risk factors only: one term per row
        context = Codes(codes.upper, np.full_like(codes.findings, -1), np.full_like(codes.side, ANYTHING), codes.shared)
        groups, _, term_key = _plan_groups(compiled, context)
        for g in np.unique(groups) if len(groups) > 1 else groups:
            rows = np.flatnonzero(groups == g)
            total, *_ = _sums(model, compiled, context, rows, np.float64, term_key[rows], upper_tables)
            prior[rows] = np.clip(total[:, 1 : 1 + n_causes] / total[:, :1], 0.0, 1.0)
        if key is not None:
            if len(cache) >= FACTOR_CACHE_SIZE:
                cache.clear()
            cache[key] = prior[0].copy()
    return Answer(
        posterior=posterior[:, :n_causes],
        explains=posterior[:, n_causes:],
        prior=prior,
        evidence_probability=evidence_probability,
        error_bound=error_bound,
        terms=terms,
        failure=failure,
        method=used,
        left_out=out.get("left_out"),
    )


def warm_kernels(model: Model) -> bool:
    """Load the compiled kernels now if they are installed and wanted, so that numba's import and
    loading the kernels' cached code (about 0.5 s together) happen here rather than in the first
    query that needs them (a service's first large request). Scores a two-row frame whose second row
    starts in extended precision, so that both precisions' kernels load, then one patient with enough
    signed positives for the kernels and the triage's re-check (``left_out_answers``), which load the
    double-double elimination and masked sums. Returns whether the kernels are in use."""
    if _kernel.active() != "numba":
        return False
    compiled = _compile(model)
    findings = np.full((2, len(model.findings)), -1, dtype=np.int64)
    signed = np.flatnonzero(compiled.signed & ~compiled.gated)
    findings[1, signed[:SIGNED_FOR_EXTENDED]] = 1
    codes = Codes(np.full((2, len(model.upper)), -1, dtype=np.int64), findings, np.full(2, ANYTHING), True)
    infer_codes(model, codes, with_prior=False, method="exact")
    many = int(np.log2(KERNEL_MIN_TERMS))  # 2**many terms at least: the kernels' threshold
    if len(signed) >= many:  # a small model (a sub-model, other priors) may not have so many
        try:
            patient = normalise(model, {model.findings[f].name: True for f in signed[:many]})
        except ImpossibleEvidenceError:  # another model's constraints may rule this patient out
            return True
        left_out_answers(model, patient, LeftOut(((int(signed[0]),),), (0,), TARGET_ERROR))
    return True


def _unit_terms(compiled: _Compiled, findings: np.ndarray, side: int, finding: int) -> np.ndarray:
    """``(T,)`` bool: which of one row's terms (as :func:`_group_terms` orders them) take the ``+1``
    choice of ``finding``, a positive expanded with signs (``1 - P(off)``: coefficient 1, every
    multiplier 1). Those terms are the terms of the evidence without ``finding``, each once.

    The order mirrors :func:`_block` and :func:`_combine`: within a block (gated findings, the
    others), the observations wider than one in order of width then column, the last varying
    fastest; then ``t = (s * T_gated + t_gated) * T_other + t_other`` for side term ``s``."""
    observed = np.flatnonzero(findings >= 0)
    widths = compiled.width[observed, findings[observed]]
    sizes, slot = [], None
    for in_block in (True, False):  # the gated block, then the others
        members = [(int(w), int(c)) for w, c in zip(widths, observed) if w > 1 and compiled.gated[c] == in_block]
        block = sorted(members)
        sizes.append([w for w, _ in block])
        if finding in [c for _, c in block]:
            slot = (0 if in_block else 1, [c for _, c in block].index(finding))
    if slot is None or compiled.width[finding, findings[finding]] != 2 or not compiled.signed[finding]:
        raise ValueError("only a positive finding expanded with signs has a +1 choice")
    gated_sizes, other_sizes = sizes
    n_gated, n_other = int(np.prod(gated_sizes)), int(np.prod(other_sizes))
    n_side = len(compiled.side_terms[side])
    t = np.arange(n_gated * n_side * n_other)
    block_index = (t // n_other) % n_gated if slot[0] == 0 else t % n_other
    block_sizes = sizes[slot[0]]
    stride = int(np.prod(block_sizes[slot[1] + 1 :]))
    digit = (block_index // stride) % block_sizes[slot[1]]
    bank = compiled.banks[2]
    row = compiled.bank_row[finding, findings[finding]]
    unit = [
        k
        for k in range(2)
        if bank.coef[row, k] == 1
        and all((table[row, k] == 1).all() for table in (bank.absent, bank.present, bank.not_activated))
    ]
    (unit,) = unit
    return digit == unit


def left_out_answers(
    model: Model, evidence: Evidence, request: LeftOut
) -> list[tuple[np.ndarray, float] | None] | None:
    """For each set of findings left out of ``evidence`` (``request.subsets``): ``P(present | e)`` then
    ``P(producing the numbness | e)`` of ``request.causes`` (in a ``(2C,)`` array over every cause, NaN
    for the others) and the error bound of those, where ``e`` is the evidence without the set; from one elimination of
    the whole evidence's terms in float64, and one in extended precision if a set's bound needs it
    (straight away for many signed positives; on the kernels from exact inputs, the masked sums in
    double-double: as ``_solve``). Each left-out finding must be a positive expanded with signs: the terms that
    take its ``+1`` choice are the terms of the evidence without it (:func:`_unit_terms`), so every
    set's answer is a masked sum of the same ``Z``. The triage re-checks its thresholds so, with
    subsets of the red-flag findings left out.

    Returns None where this does not pay or does not apply, and the caller infers the reduced
    evidence itself: fewer than ``KERNEL_MIN_TERMS`` terms, more than ``MAX_TERMS``, or a left-out
    finding that is not such a positive. A set's entry is None where its bound exceeds
    ``request.target_error`` or its evidence has probability zero."""
    compiled = _compile(model)
    codes = codes_from_evidence(model, [evidence])
    findings, side = codes.findings[0], int(codes.side[0])
    all_masks = _left_out_masks(compiled, findings, side, request.subsets)
    if all_masks is None:
        return None
    n_terms = all_masks.shape[1]
    step = max(1, TERM_CHUNK_ELEMENTS // compiled.widest)  # as _sums slices one row's terms
    n_causes = len(model.causes)
    columns = _left_out_columns(request.causes, n_causes)
    ops = float(_ops(model, findings))  # the whole evidence's: more than any reduced evidence's
    merged = int(_merged_positives(compiled, findings))  # likewise
    out: list[tuple[np.ndarray, float] | None] = [None] * len(request.subsets)
    pending = list(range(len(request.subsets)))
    # as _solve: extended precision for the sets float64 misses, or straight away for many signed positives
    extended_first = _extended_first(compiled, codes.findings, request.target_error)[0]
    dtypes = (np.longdouble,) if extended_first else (np.float64, np.longdouble)
    for dtype in dtypes:
        if not pending:
            break
        built = _kernel.build_terms(compiled.term_tables, codes.findings, codes.side, int(n_terms), dtype)
        coef, absent, present, active = built or _group_terms(model, compiled, codes.findings, side, dtype)
        masks = all_masks[pending]
        sums, exact = None, False
        if _exact_inputs(codes, int(n_terms), dtype, None):  # as _solve: double-double from exact inputs
            plan, tables = _exact_factors(model, compiled, codes.upper[0])
            z, left = _kernel.eliminate(plan.packed, (*tables, absent, present, active), dtype, keep_double_double=True)
            if not len(left):
                sums, exact = _kernel.masked_sums(z[0][:, columns], coef[0], masks), True
        if sums is None:
            coef = _kernel.as_array(coef)
            z = np.concatenate(
                [
                    _eliminate(
                        model,
                        compiled,
                        codes.upper,
                        *(a[:, t : t + step] for a in (absent, present, active)),
                        dtype,
                        kernel=True,  # by the row's terms, as _sums decides (at least KERNEL_MIN_TERMS here)
                    )
                    for t in range(0, int(n_terms), step)
                ],
                axis=1,
            )[0]
            # only the columns asked for (the sums over terms are much of the cost here), terms last:
            # numpy sums a contiguous axis pairwise, whose rounding the bound covers (a matrix product's
            # need not)
            z = np.ascontiguousarray(z[:, columns].T)
            total = np.stack([(z[:, mask] * coef[0][mask]).sum(axis=-1) for mask in masks])
            absolute = np.stack([(z[:, mask] * np.abs(coef[0][mask])).sum(axis=-1) for mask in masks])
            sums = total, absolute
        total, absolute = sums
        missed = []
        for i, k in enumerate(pending):
            out[k], retry = _left_out_row(total[i], absolute[i], ops, dtype, exact, merged, request, n_causes)
            if retry:
                missed.append(k)
        pending = missed
    return out


def _left_out_columns(causes: Sequence[int], n_causes: int) -> np.ndarray:
    """The ``Z`` columns a left-out set's answer reads: no clamp, then each of ``causes`` present, then
    each producing the numbness."""
    return np.array([0, *(1 + c for c in causes), *(1 + n_causes + c for c in causes)], dtype=np.int64)


def _left_out_masks(
    compiled: _Compiled,
    findings: np.ndarray,
    side: int,
    subsets: Sequence[Sequence[int]],
    min_terms: int = KERNEL_MIN_TERMS,
) -> np.ndarray | None:
    """``(K, T)`` bool: for each set of findings left out of one row's evidence (``findings`` codes),
    its terms among the row's (:func:`_unit_terms`); None where a left-out finding is not a positive
    expanded with signs in these codes, or the row's terms are outside ``min_terms`` to
    ``MAX_TERMS`` (by default the kernels' range; ``_solve`` reads the masks only from exact inputs,
    which run on the kernels at any size)."""
    wanted = {f for subset in subsets for f in subset}
    if any(findings[f] != 1 or not compiled.signed[f] for f in wanted):
        return None
    n_terms = int(row_terms(compiled, findings, side))
    if not min_terms <= n_terms <= MAX_TERMS:
        return None
    unit = {f: _unit_terms(compiled, findings, side, f) for f in wanted}
    masks = np.ones((len(subsets), n_terms), dtype=bool)
    for i, subset in enumerate(subsets):
        for f in subset:
            masks[i] &= unit[f]
    return masks


def _left_out_row(
    total: np.ndarray,
    absolute: np.ndarray,
    ops: float,
    dtype: type,
    exact: bool,
    merged: int,
    request: LeftOut,
    n_causes: int,
) -> tuple[tuple[np.ndarray, float] | None, bool]:
    """One left-out set's answer from its signed and absolute sums over ``_left_out_columns``: the
    posteriors then explains of ``request.causes`` in a ``(2C,)`` row (NaN for the other causes) and
    its bound, or None; and whether more precision could answer it (its bound exceeds
    ``request.target_error``; not where every term is zero: that evidence is impossible). ``ops``
    and ``merged``: the whole evidence's, which bound any set's."""
    if absolute[0] == 0:  # every term zero: no cancellation, the evidence is impossible
        return None, False
    ok, ratios, bound = _bounded_in(total[None], absolute[None], ops, dtype, exact, merged)
    if not ok[0] or bound[0] > request.target_error:
        return None, True
    causes = list(request.causes)
    row = np.full(2 * n_causes, np.nan)
    row[[*causes, *(n_causes + c for c in causes)]] = np.clip(ratios[0].astype(np.float64), 0.0, 1.0)
    return (row, float(bound[0])), False


def infer_exact(model: Model, evidence: Evidence, method: str = "exact", left_out: LeftOut | None = None) -> Answer:
    """One row: raises the row's error (impossible evidence, past the limit) if it has one.
    ``left_out``: see :func:`infer_codes`."""
    answer = infer_codes(model, codes_from_evidence(model, [evidence]), method=method, left_out=left_out)
    if answer.failure[0] is not None:
        raise answer.failure[0]
    return answer
