"""Exactness of ``infer``: against brute-force enumeration, pgmpy variable elimination and pyAgrum
(through the exported BIF) on real sub-models, and against pgmpy's likelihood-weighted sampling on the
full model."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbdx
from numbdx._evidence import normalise
from numbdx._exceptions import ImpossibleEvidenceError

from ._oracle import brute_force
from .strategies import SUBMODEL_CAUSES, evidence, possible_codes, submodel_and_evidence

TOL = 1e-9


def _infer_or_none(ev, model):
    try:
        return numbdx.infer(ev, model=model)
    except ImpossibleEvidenceError:
        return None


@given(submodel_and_evidence())
def test_agrees_with_brute_force(case):
    model, ev = case
    answer = _infer_or_none(ev, model)
    normalised = None
    try:
        normalised = normalise(model, ev)
    except ImpossibleEvidenceError:
        assert answer is None
        return
    present, explains, p_e = brute_force(model, normalised)
    if answer is None:
        assert p_e == pytest.approx(0, abs=1e-15)
        return
    got = np.array([answer[c].posterior for c in model.cause_names])
    np.testing.assert_allclose(got, present, rtol=0, atol=TOL)
    got = np.array([answer[c].explains for c in model.cause_names])
    np.testing.assert_allclose(got, explains, rtol=0, atol=TOL)


@pytest.fixture(scope="module")
def pgmpy_engines(model):
    from pgmpy.inference import VariableElimination

    engines = {}
    for causes in SUBMODEL_CAUSES:
        sub = model.submodel(causes)
        engines[causes] = (sub, VariableElimination(sub.to_pgmpy(max_table_parents=2)))
    return engines


@settings(max_examples=15)
@given(data=st.data(), which=st.sampled_from(SUBMODEL_CAUSES))
def test_agrees_with_pgmpy_variable_elimination(pgmpy_engines, data, which):
    sub, engine = pgmpy_engines[which]
    ev = data.draw(evidence(sub, max_findings=5))
    answer = _infer_or_none(ev, sub)
    if answer is None:
        return
    pgmpy_ev = sub.pgmpy_evidence(ev)
    for cause in sub.cause_names:
        for variable, got in ((cause, answer[cause].posterior), (f"leg_numbness__by__{cause}", answer[cause].explains)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                q = engine.query([variable], evidence=pgmpy_ev, show_progress=False)
            expected = q.values[q.state_names[variable].index("True")]
            assert got == pytest.approx(expected, abs=TOL), variable


@pytest.fixture(scope="module")
def agrum_networks(model, tmp_path_factory):
    """Each sub-model exported by pgmpy's writers and loaded by pyAgrum, in both formats.

    pyAgrum's BIF parser stores CPT values as float32 (measured: 0.00037989362978 is read back as
    float32(0.00037989362978)), although the file holds full precision; its XMLBIF reader keeps full
    precision. So the 1e-9 agreement runs through XMLBIF, and BIF agrees to float32 precision.
    """
    gum = pytest.importorskip("pyagrum")
    from pgmpy.readwrite import BIFWriter, XMLBIFWriter

    nets = {}
    for causes in SUBMODEL_CAUSES:
        sub = model.submodel(causes)
        network = sub.to_pgmpy()
        folder = tmp_path_factory.mktemp("export")
        BIFWriter(network).write(str(folder / "sub.bif"))
        XMLBIFWriter(network).write(str(folder / "sub.bifxml"))
        nets[causes] = (sub, gum.loadBN(str(folder / "sub.bifxml")), gum.loadBN(str(folder / "sub.bif")))
    return nets


def _agrum_posteriors(bn, sub, ev):
    import pyagrum as gum

    engine = gum.LazyPropagation(bn)
    engine.setEvidence(sub.pgmpy_evidence(ev))
    engine.makeInference()
    out = {}
    for cause in sub.cause_names:
        for variable in (cause, f"leg_numbness__by__{cause}"):
            labels = bn.variable(variable).labels()
            out[variable] = engine.posterior(variable).tolist()[labels.index("True")]
    return out


@settings(max_examples=15)
@given(data=st.data(), which=st.sampled_from(SUBMODEL_CAUSES))
def test_agrees_with_pyagrum_through_exported_files(agrum_networks, data, which):
    sub, bn_xml, bn_bif = agrum_networks[which]
    ev = data.draw(evidence(sub, max_findings=5))
    answer = _infer_or_none(ev, sub)
    if answer is None:
        return
    ours = {c.name: c.posterior for c in answer} | {f"leg_numbness__by__{c.name}": c.explains for c in answer}
    for variable, expected in _agrum_posteriors(bn_xml, sub, ev).items():
        assert ours[variable] == pytest.approx(expected, abs=TOL), variable
    for variable, expected in _agrum_posteriors(bn_bif, sub, ev).items():
        assert ours[variable] == pytest.approx(expected, abs=1e-6), variable


def test_hand_computed_single_cause_posterior(model):
    """One cause plus the leak, computed by hand from the knowledge base's numbers."""
    sub = model.submodel(["stroke"])
    kb = model.knowledge
    side = {s.cause: s for s in kb.sides}
    baseline = {c.name: c.baseline.value for c in kb.causes}
    # Reference person (age 30-49, male, no risk factors known false...): give every risk factor of
    # stroke as absent so its probability is the baseline.
    rfs = {v.name: False for v in sub.upper[2:]}
    ev = {"age": 40, "sex": "male", **rfs}
    # P(leg numb | stroke alone) = p_s; P(leg numb | other alone) = p_o; both -> 1-(1-p_s)(1-p_o)
    ps, po = side["stroke"].p.value, side["other_cause"].p.value
    bs, bo = baseline["stroke"], baseline["other_cause"]
    joint = {
        (1, 1): bs * bo * (1 - (1 - ps) * (1 - po)),
        (1, 0): bs * (1 - bo) * ps,
        (0, 1): (1 - bs) * bo * po,
        (0, 0): 0.0,
    }
    expected = (joint[1, 1] + joint[1, 0]) / sum(joint.values())
    assert numbdx.infer(ev, model=sub)["stroke"].posterior == pytest.approx(expected, abs=1e-12)


@pytest.mark.slow
def test_full_model_agrees_with_likelihood_weighted_sampling(model):
    """The full model, statistically: every cause within four standard errors of pgmpy's estimate."""
    from pgmpy.factors.discrete import State
    from pgmpy.sampling import BayesianModelSampling

    ev = {"age": 45, "sex": "female", "numb_toes": True, "back_pain": True, "swelling": False}
    answer = numbdx.infer(ev, model=model)
    network = model.to_pgmpy()
    states = [State(k, v) for k, v in model.pgmpy_evidence(ev).items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = BayesianModelSampling(network).likelihood_weighted_sample(
            evidence=states, size=20_000, seed=20261121, show_progress=False
        )
    weights = samples["_weight"].to_numpy(dtype=float)
    total = weights.sum()
    n_effective = total**2 / (weights**2).sum()
    assert n_effective > 1000, n_effective
    for cause in model.cause_names:
        for variable, got in ((cause, answer[cause].posterior), (f"leg_numbness__by__{cause}", answer[cause].explains)):
            if variable not in samples:
                continue  # a cause that never numbs the leg has no activation node
            x = (samples[variable].astype(str) == "True").to_numpy(dtype=float)
            estimate = (weights * x).sum() / total
            # The plug-in standard error collapses for a rare cause that no sample hits, and the
            # binomial one under the hypothesis tested (p = our answer, effective sample size of the
            # weights) understates a rare cause hit once with a heavy weight: take the larger.
            plug_in = np.sqrt((weights**2 * (x - estimate) ** 2).sum()) / total
            se = max(plug_in, np.sqrt(got * (1 - got) / n_effective))
            assert abs(got - estimate) <= 4 * se, (variable, got, estimate, se)


@pytest.mark.parametrize("causes", SUBMODEL_CAUSES[:3])
def test_many_positive_findings_against_a_cancellation_free_reference(model, causes):
    """Quickscore's alternating sum loses digits as positives grow; brute-force enumeration sums
    positive probabilities only, so it is the high-precision reference. Every finding the sub-model has
    is given as present (rare ones included), with the context fixed."""
    sub = model.submodel(causes)
    positives = [f.name for f in sub.findings if f.kind == "binary" and not f.gated][:12]
    ev = {"age": 45, "sex": "female", **dict.fromkeys(positives, True)}
    answer = numbdx.infer(ev, model=sub)
    present, explains, _ = brute_force(sub, normalise(sub, ev))
    assert len(positives) >= 8
    np.testing.assert_allclose([answer[c].posterior for c in sub.cause_names], present, rtol=0, atol=TOL)
    np.testing.assert_allclose([answer[c].explains for c in sub.cause_names], explains, rtol=0, atol=TOL)
    assert answer.error_bound <= 1e-6


def test_uncommon_positives_are_re_expanded_rather_than_refused():
    """Six uncommon findings cancel beyond extended precision under Quickscore's expansion; the engine
    re-expands them without cancellation (a 55-year-old man from a generated cohort)."""
    ev = {
        "age": 55.0, "sex": "male", "diabetes": False, "smoking": False, "overweight": False,
        "sedentary_lifestyle": False, "crawling": True, "temperature_discrimination_loss": True,
        "complete_sensory_loss": True, "pain_on_heel_step": True, "cramps_convulsions": True,
        "vision_disturbance": True,
    }  # fmt: skip
    d = numbdx.infer(ev)
    assert d.error_bound <= 1e-9
    assert all(0 <= c.explains <= c.posterior <= 1 for c in d)


@settings(max_examples=10, deadline=None)
@given(st.lists(evidence(numbdx.load_model(), max_findings=5, chief=None), min_size=1, max_size=12))
def test_elimination_numbers_do_not_depend_on_how_columns_are_chunked(evidence_rows):
    """The numpy elimination runs (row, term) columns a chunk at a time; every column's arithmetic
    must be the same whatever the chunk (one column alone included), so that a row's numbers do not
    depend on its batch. (The compiled kernel's counterpart is in test_kernel.py.)"""
    from numbdx import _engine, _kernel

    model = numbdx.load_model()
    codes = possible_codes(model, evidence_rows)
    if codes is None:
        return
    saved = _engine.COLUMN_CHUNK
    with _kernel.use("numpy"):
        default = _engine.infer_codes(model, codes, shared_plans=True, method="exact")
    try:
        for chunk in (1, 3):
            _engine.COLUMN_CHUNK = chunk
            with _kernel.use("numpy"):
                chunked = _engine.infer_codes(model, codes, shared_plans=True, method="exact")
            for name in ("posterior", "explains", "prior", "evidence_probability"):
                np.testing.assert_array_equal(getattr(chunked, name), getattr(default, name), err_msg=name)
    finally:
        _engine.COLUMN_CHUNK = saved


@settings(max_examples=25, deadline=None)
@given(evidence(numbdx.load_model(), max_findings=4, chief=None))
def test_one_patients_forward_passes_agree_with_the_reverse_pass(ev):
    """One patient with a small elimination is eliminated by forward passes with each cause clamped
    present (``_eliminate_clamped``); everyone else by one forward and one reverse pass. Both compute
    the same quantities, so they agree to rounding."""
    from numbdx import _engine

    model = numbdx.load_model()
    try:
        codes = _engine.codes_from_evidence(model, [normalise(model, ev)])
    except ImpossibleEvidenceError:
        return
    saved = _engine.CLAMPED_MAX_ENTRIES
    answers = []
    try:
        for budget in (1 << 62, 0):  # every patient forward, then every patient reverse
            _engine.CLAMPED_MAX_ENTRIES = budget
            model.__dict__.pop("_prior_cache", None)  # the prior given the context, cached on the model
            answers.append(_engine.infer_codes(model, codes, method="exact"))
    finally:
        _engine.CLAMPED_MAX_ENTRIES = saved
        model.__dict__.pop("_prior_cache", None)
    forward, reverse = answers
    if forward.failure[0] is not None or reverse.failure[0] is not None:
        assert type(forward.failure[0]) is type(reverse.failure[0])
        return
    # each answer is within its error bound of the truth, so the two are within the sum of the bounds
    # (cancellation makes that far above rounding on easy evidence: 4.6e-13 was seen). The bound covers
    # every posterior's eps * ops * ratio * sum|terms| / P(e), so P(e)'s relative error is within it
    # over the largest posterior
    within = float(forward.error_bound[0] + reverse.error_bound[0])
    for name in ("posterior", "explains"):
        a, b = getattr(forward, name), getattr(reverse, name)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=max(within, 1e-15), err_msg=name)
    np.testing.assert_allclose(forward.prior, reverse.prior, rtol=1e-12, atol=1e-15, err_msg="prior")
    relative = max(1e-12, within / float(forward.posterior.max()))
    np.testing.assert_allclose(forward.evidence_probability, reverse.evidence_probability, rtol=relative)
    assert forward.terms[0] == reverse.terms[0]


@pytest.mark.parametrize("context", [(3, 0), (-1, 1), (-1, -1)], ids=["age-sex", "sex", "neither"])
def test_sums_without_gathers_add_in_the_gathered_order(context):
    """The reverse pass sums each operand's entries without a gather where the layout allows, and the
    per-cause sums go by factor size: both must add exactly what, and in the order, a plain loop over
    the gathered rows adds (so the numbers stay bitwise those of a gather-then-sum)."""
    from numbdx import _engine

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    upper = np.array([[*context] + [-1] * (len(model.upper) - 2)])
    plan, _, _ = _engine._factors(model, compiled, upper, np.float64, shared=True)
    packed = plan.packed
    rng = np.random.default_rng(0)

    def in_order(rows: np.ndarray, block: np.ndarray) -> np.ndarray:
        total = block[rows[0]].copy()
        for r in rows[1:]:
            total = total + block[r]
        return total

    layouts = set()
    for (_, _, _, groupings), (gather, _, _, _, operands, _) in zip(plan.steps, packed.steps):
        # groupings: per operand, the union entries grouped by the operand's entry (the gather order)
        for order, (_, size, layout, repeats, _) in zip(groupings, operands):
            block = rng.random((gather.shape[1], 3))
            got = _engine._operand_sums(block, layout, size, repeats)
            groups = np.asarray(order).reshape(size, repeats)
            expected = np.stack([in_order(groups[e], block) for e in range(size)])
            np.testing.assert_array_equal(got, expected)
            layouts.add("contiguous" if layout is None else layout if isinstance(layout, str) else "gathered")
    assert layouts == {"contiguous", "strided", "gathered"}

    n_entries = packed.cause_end - packed.cause_start
    scaled = rng.random((n_entries, 3))
    starts = np.concatenate([[0], np.cumsum(np.bincount(packed.cause_of_entry))[:-1]])
    for size, entries, causes in packed.cause_groups:
        got = _engine._segment_sums(scaled[entries], size)
        expected = np.stack([in_order(starts[c] + np.arange(size), scaled) for c in causes])
        np.testing.assert_array_equal(got, expected)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(evidence(numbdx.load_model(), max_findings=2, max_risk_factors=8, chief=None), min_size=2, max_size=40),
    st.sampled_from([np.float64, np.longdouble]),
)
def test_a_frames_upper_tables_are_each_rows_own(evidence_rows, dtype):
    """A frame's upper-layer tables are made once, for one made row per context and value of each
    table's indicators (``_UpperTables``): every combination, kept with the model, or those of the
    frame's rows. Every row must get bit for bit the tables ``_factors`` makes for it alone, whichever
    rows share its frame, and the plan they were made for."""
    from numbdx import _engine

    model = numbdx.load_model()
    codes = possible_codes(model, evidence_rows)
    if codes is None:
        return
    compiled = _engine._compile(model)
    saved = _engine.CANONICAL_MADE_ROWS, _engine.DENSE_KEYS
    try:
        # tables made for every combination once per model (kept between frames), then made from the
        # frame's rows and matched to them through a dense table, then by sorting
        for canonical, dense_keys in ((saved[0], saved[1]), (0, saved[1]), (0, 0)):
            _engine.CANONICAL_MADE_ROWS, _engine.DENSE_KEYS = canonical, dense_keys
            _check_upper_tables(model, compiled, codes, dtype)
    finally:
        _engine.CANONICAL_MADE_ROWS, _engine.DENSE_KEYS = saved


@pytest.mark.parametrize("dtype", [np.float64, np.longdouble])
def test_a_frames_upper_tables_where_a_cause_absorbs_two_risk_factors(priors_copy, dtype):
    """The shipped model's causes absorb one risk factor at most, so the made rows' codes have one
    digit. Here high caffeine is moved from Raynaud's disease to tunnel syndrome, which then absorbs
    it with monotonous work: two digits, every combination of their states (unknown, yes, no) in
    every pattern of observed context. Each row must still get bit for bit its own tables, made from
    every combination and from the frame's rows alike."""
    from numbdx import _engine
    from numbdx._model import build_model

    from .conftest import edit_file

    edit_file(
        priors_copy / "causes.toml",
        'cause = "raynauds_disease"\nfactor = "high_caffeine"',
        'cause = "tunnel_syndrome"\nfactor = "high_caffeine"',
    )
    model = build_model(priors_copy)
    compiled = _engine._compile(model)
    absorbed = {
        model.causes[c].name: [model.upper[v].name for v in a] for c, (_, a) in enumerate(compiled.cause_scopes)
    }
    assert sorted(absorbed["tunnel_syndrome"]) == ["high_caffeine", "monotonous_work"]
    states = (None, True, False)
    rows = [
        {
            k: v
            for k, v in {"age": age, "sex": sex, "monotonous_work": work, "high_caffeine": coffee}.items()
            if v is not None
        }
        | {"numb_toes": True}
        for age, sex, work, coffee in itertools.product((None, 40), (None, "female"), states, states)
    ]
    codes = possible_codes(model, rows)
    assert len(codes) == len(rows)
    saved = _engine.CANONICAL_MADE_ROWS
    try:
        for canonical in (saved, 0):
            _engine.CANONICAL_MADE_ROWS = canonical
            model.__dict__.pop("_canonical_upper_tables", None)
            _check_upper_tables(model, compiled, codes, dtype)
    finally:
        _engine.CANONICAL_MADE_ROWS = saved


def _check_upper_tables(model, compiled, codes, dtype):
    from numbdx import _engine

    whole = _engine._UpperTables(model, compiled, codes.upper)
    half = whole.subset(np.arange(len(codes))[::2])  # the re-expanded rows' view of the same tables
    observed = codes.upper[:, list(_engine.CONTEXT)] >= 0
    for r in range(len(codes)):
        same = np.flatnonzero((observed == observed[r]).all(axis=1))  # an elimination's rows
        plan, tables = whole.get(same, dtype)
        alone_plan, priors, causes = _engine._factors(model, compiled, codes.upper[r : r + 1], dtype, shared=True)
        assert plan is alone_plan  # plans are cached by scope: the same object
        alone = _engine._stack_tables(priors, causes)
        column = int(np.flatnonzero(same == r)[0])
        for got, expected in zip(tables, alone):
            assert got.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got[:, column], expected[:, 0])
        if r % 2 == 0:
            _, from_half = half.get(np.array([r // 2]), dtype)
            for got, expected in zip(from_half, alone):
                np.testing.assert_array_equal(got[:, 0], expected[:, 0])


def test_ordered_expansion_is_p_on_in_every_state_of_the_causes():
    """A positive expanded in order ("fired first through the leak or the first cause, or through a
    later cause, no earlier one firing") has one term per cause (one for the leak alone without a
    cause), none negative, and in every state of its causes (absent, present and activated, present
    but not activated) its terms add up to ``P(on) = 1 - (1 - leak) * prod (1 - q)`` over the causes
    that can produce it (for a numbness feature, the activated ones), computed here by hand."""
    from numbdx import _engine

    model = numbdx.load_model()
    checked = 0
    for f, node in enumerate(model.findings):
        if node.n_patterns != 2 or len(node.parents) > 6:
            continue
        merged = _engine._finding_choices(model, f, _engine.ORDERED)
        assert len(merged) == max(1, len(node.parents))
        # the importance sampler's version: the leak its own choice, each other choice needing its cause
        apart = _engine._finding_choices(model, f, _engine.ORDERED, leak_apart=True)
        assert len(apart) == len(node.parents) + 1
        assert [list(np.flatnonzero(absent == 0)) for _, absent, _, _ in apart] == [[]] + [[c] for c in node.parents]
        leak = node.leak_probs[1]
        for choices in (merged, apart):
            for coef, absent, present, not_activated in choices:
                assert coef >= 0 and (absent >= 0).all() and (present >= 0).all() and (not_activated >= 0).all()
            for states in itertools.product(range(3), repeat=len(node.parents)):  # absent, activated, not
                producing = [c for c, s in zip(node.parents, states) if s == 1 or (s == 2 and not node.gated)]
                p_off = (1 - leak) * np.prod([1 - node.pattern_probs[c, 1] for c in producing])
                total = 0.0
                for coef, absent, present, not_activated in choices:
                    term = coef
                    for c, s in zip(node.parents, states):
                        term *= (absent, present, not_activated if node.gated else present)[s][c]
                    total += term
                np.testing.assert_allclose(total, 1 - p_off, rtol=1e-14, atol=1e-16)
        checked += 1
    assert checked > 40


def test_the_ordered_first_terms_rounding_is_within_its_allowance_and_bounded(monkeypatch):
    """The ordered expansion's first term holds ``leak + (1 - leak) * q`` rounded in float64: within
    3 * 2**-53 of the exact sum (from the engine's own ``1 - leak``), as ``MERGED_ROUNDING`` assumes,
    checked in rationals for every finding; and every answer's bound carries that allowance per
    such positive, whatever precision the rest ran in."""
    from fractions import Fraction

    from numbdx import _engine

    model = numbdx.load_model()
    for f, node in enumerate(model.findings):
        if node.n_patterns != 2 or not node.parents:
            continue
        first = node.parents[0]
        _, absent, present, _ = _engine._finding_choices(model, f, _engine.ORDERED)[0]
        leak, q = node.leak_probs[1], node.pattern_probs[first, 1]
        exact = Fraction(float(leak)) + Fraction(float(1 - leak)) * Fraction(float(q))
        assert absent[first] == leak
        assert abs(Fraction(float(present[first])) - exact) <= 3 * 2.0**-53 * exact, node.name
    compiled = _engine._compile(model)
    ev = normalise(model, {"age": 40, "blood_sugar_high": True, "numb_foot_sole": True, "tingling": True})
    codes = _engine.codes_from_evidence(model, [ev])
    assert _engine._merged_positives(compiled, codes.findings)[0] == 2  # tingling is signed
    # made large enough to stand out of the arithmetic's own bound (about 1e-13 here)
    monkeypatch.setattr(_engine, "MERGED_ROUNDING", 1e-11)
    answer = _engine.infer_codes(model, codes)
    assert answer.failure[0] is None and answer.error_bound[0] >= 2e-11


def test_positives_with_at_most_two_causes_never_cancel():
    """A positive finding with no cause (numb_calf: its leak alone), one (blood_sugar_high) or two
    (numb_foot_sole) is expanded in order: no more terms than ``1 - P(off)``'s two and none negative.
    The leak-only finding is one term, so a patient's answer with it is the answer without it (the
    leak does not depend on the causes), and its evidence probability is the leak's times the
    other's."""
    from numbdx import _engine

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    for name, n_terms in (("numb_calf", 1), ("blood_sugar_high", 1), ("numb_foot_sole", 2)):
        f = model.finding_index[name]
        assert not compiled.signed[f]
        choices = _engine._finding_choices(model, f, 1)
        assert len(choices) == n_terms == max(1, len(model.findings[f].parents))
        assert all(coef > 0 for coef, *_ in choices)
    base = {"age": 60, "sex": "male", "numb_toes": True, "tingling": True}
    without = _engine.infer_codes(model, _engine.codes_from_evidence(model, [normalise(model, base)]))
    calf = model.findings[model.finding_index["numb_calf"]]
    with_calf = _engine.infer_codes(
        model, _engine.codes_from_evidence(model, [normalise(model, {**base, "numb_calf": True})])
    )
    np.testing.assert_allclose(with_calf.posterior, without.posterior, rtol=1e-13)
    np.testing.assert_allclose(
        with_calf.evidence_probability, without.evidence_probability * calf.leak_probs[1], rtol=1e-13
    )
    assert with_calf.terms[0] == without.terms[0]


@pytest.mark.parametrize(
    ("n_signed", "target", "first"),
    [(3, 1e-9, np.float64), (4, 1e-9, np.longdouble), (5, 1e-6, np.float64), (9, 1e-6, np.longdouble)],
)
def test_rows_start_in_extended_precision_by_their_signed_positives_and_target(monkeypatch, n_signed, target, first):
    """A row with enough positives expanded with signs skips the float64 pass it would almost surely
    fail; a looser target (the triage's 1e-6) needs more of them (``SIGNED_BOUND_GROWTH``)."""
    from numbdx import _engine

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    names = [f.name for i, f in enumerate(model.findings) if compiled.signed[i] and f.kind == "binary"][:n_signed]
    codes = _engine.codes_from_evidence(model, [normalise(model, {"age": 50, **dict.fromkeys(names, True)})])
    assert ((codes.findings == 1) & compiled.signed[None, :]).sum() == n_signed
    dtypes = []
    real = _engine._sums

    def spy(model, compiled, codes, rows, dtype, *rest):
        dtypes.append(dtype)
        return real(model, compiled, codes, rows, dtype, *rest)

    monkeypatch.setattr(_engine, "_sums", spy)
    answer = _engine.infer_codes(model, codes, with_prior=False, method="exact", target_error=target)
    assert answer.failure[0] is None and answer.error_bound[0] <= target
    assert dtypes[0] is first


@settings(max_examples=30, deadline=None)
@given(evidence(numbdx.load_model(), max_findings=7, chief=None), st.data())
def test_the_plus_one_terms_of_a_positive_are_the_terms_without_it(ev, data):
    """The terms of evidence ``e`` that take a signed positive's ``+1`` choice (``_unit_terms``) are,
    in order and bit for bit, the terms of ``e`` without that finding: its multipliers there are
    exactly 1."""
    from numbdx import _engine

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    try:
        codes = _engine.codes_from_evidence(model, [normalise(model, ev)])
    except ImpossibleEvidenceError:
        return
    findings, side = codes.findings[0], int(codes.side[0])
    candidates = np.flatnonzero((findings == 1) & compiled.signed)
    if not len(candidates):
        return
    f = int(data.draw(st.sampled_from(candidates.tolist()), label="left out"))
    mask = _engine._unit_terms(compiled, findings, side, f)
    whole = _engine._group_terms(model, compiled, codes.findings, side, np.float64)
    without = codes.findings.copy()
    without[0, f] = -1
    reduced = _engine._group_terms(model, compiled, without, side, np.float64)
    assert mask.sum() == reduced[0].shape[1]
    for got, expected in zip(whole, reduced):
        np.testing.assert_array_equal(got[:, mask], expected)


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_left_out_answers_agree_with_inferring_the_reduced_evidence(kernel):
    """Posteriors with subsets of the positives left out, from one elimination of the whole
    evidence's terms, agree with inferring each reduced evidence within the two bounds; where the
    method does not apply (a left-out finding that is not a signed positive, or few terms) it says so.
    On the kernels the masked sums are double-double from exact inputs; on numpy, np.longdouble's."""
    from numbdx import _engine, _kernel

    if kernel == "numba":
        pytest.importorskip("numba", reason="the numba extra is not installed")
    with _kernel.use(kernel):
        _left_out_answers_agree(_engine)


def _left_out(subsets, causes, target_error=1e-9):
    """An ``_engine.LeftOut`` of lists of finding indices and causes."""
    from numbdx._engine import LeftOut

    return LeftOut(tuple(map(tuple, subsets)), tuple(causes), target_error)


def _left_out_answers_agree(_engine):

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    positives = ["numb_toes", "tingling", "burning", "aching_pain", "weakness", "swelling", "difficulty_walking"]
    ev = {"age": 70, "sex": "male", "smoking": True, "numbness_side": "left", **dict.fromkeys(positives, True)}
    ev |= {"speech_disturbance": False, "heaviness": True, "cramps_convulsions": True}
    evidence_ = normalise(model, ev)
    left = [("weakness",), ("swelling", "difficulty_walking"), ("weakness", "swelling", "difficulty_walking")]
    index = [[model.finding_index[n] for n in names] for names in left]
    causes = [model.cause_index[c] for c in ("stroke", "thrombosis", "diabetic_neuropathy")]
    assert _engine.row_terms(compiled, _engine.codes_from_evidence(model, [evidence_]).findings[0], 1) >= 256
    answers = _engine.left_out_answers(model, evidence_, _left_out(index, causes, 1e-6))
    assert answers is not None and all(a is not None for a in answers)
    n_causes = len(model.causes)
    for names, (row, bound) in zip(left, answers):
        reduced = normalise(model, {k: v for k, v in ev.items() if k not in names})
        direct = _engine.infer_codes(model, _engine.codes_from_evidence(model, [reduced]), with_prior=False)
        assert bound <= 1e-6
        for c in causes:
            assert abs(row[c] - direct.posterior[0, c]) <= bound + direct.error_bound[0]
            assert abs(row[n_causes + c] - direct.explains[0, c]) <= bound + direct.error_bound[0]
        assert np.isnan(np.delete(row, [*causes, *(n_causes + c for c in causes)])).all()
    assert _engine.left_out_answers(model, evidence_, _left_out([], causes)) == []  # nothing to leave out
    # speech_disturbance is negative here, numbness_side not binary: not a signed positive
    speech = [[model.finding_index["speech_disturbance"]]]
    assert _engine.left_out_answers(model, evidence_, _left_out(speech, causes)) is None
    small = normalise(model, {"age": 70, "weakness": True, "swelling": True})
    assert _engine.left_out_answers(model, small, _left_out([[model.finding_index["weakness"]]], causes)) is None


def test_a_small_patient_in_extended_precision_runs_on_the_kernels_from_exact_inputs(monkeypatch):
    """A patient with far fewer than ``KERNEL_MIN_TERMS`` terms whose signed positives start it in
    extended precision (five positives, two of them red-flag findings) is eliminated on the
    kernels in double-double from exact inputs, where numpy's ``np.longdouble`` took 3-4x as long. Its
    answer agrees with numpy's within the two bounds, and the triage's re-checks come from the same
    elimination and agree with inferring each reduced evidence."""
    pytest.importorskip("numba", reason="the numba extra is not installed")
    from numbdx import _engine, _kernel
    from numbdx._triage import left_out_request

    model = numbdx.load_model()
    compiled = _engine._compile(model)
    positives = ["numb_toes", "tingling", "burning", "weakness", "swelling"]
    ev = {"age": 70, "sex": "male", "smoking": True, **dict.fromkeys(positives, True)}
    evidence_ = normalise(model, ev)
    codes = _engine.codes_from_evidence(model, [evidence_])
    assert _engine.row_terms(compiled, codes.findings[0], int(codes.side[0])) < _engine.KERNEL_MIN_TERMS
    assert _engine._extended_first(compiled, codes.findings, _engine.TARGET_ERROR)[0]
    request = left_out_request(model, evidence_.values)
    assert request is not None and len(request[0]) == 3  # weakness, swelling and both
    names, left_out = request
    exact_inputs = []
    real = _engine._exact_factors
    monkeypatch.setattr(_engine, "_exact_factors", lambda *a: exact_inputs.append(1) or real(*a))
    with _kernel.use("numba"):
        on_kernels = _engine.infer_codes(model, codes, left_out=left_out)
    assert exact_inputs
    exact_inputs.clear()
    with _kernel.use("numpy"):
        on_numpy = _engine.infer_codes(model, codes)
    assert not exact_inputs
    for name in ("posterior", "explains"):
        got, expected = getattr(on_kernels, name), getattr(on_numpy, name)
        assert (np.abs(got - expected) <= on_kernels.error_bound[0] + on_numpy.error_bound[0]).all(), name
    assert on_kernels.left_out is not None and all(a is not None for a in on_kernels.left_out)
    n_causes = len(model.causes)
    for left, (row, bound) in zip(names, on_kernels.left_out):
        reduced = normalise(model, {k: v for k, v in ev.items() if k not in left})
        direct = _engine.infer_codes(model, _engine.codes_from_evidence(model, [reduced]), with_prior=False)
        for c in left_out.causes:
            assert abs(row[c] - direct.posterior[0, c]) <= bound + direct.error_bound[0]
            assert abs(row[n_causes + c] - direct.explains[0, c]) <= bound + direct.error_bound[0]


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_a_float64_answer_gives_the_re_checks_from_its_own_elimination(kernel):
    """A small patient answered in float64 by numpy's elimination (on the kernels' installation too:
    fewer than ``KERNEL_MIN_TERMS`` terms), with red-flag findings that are positives expanded with
    signs: the triage's re-checks come from the answer's own ``Z`` (masked sums), its own numbers are
    those of the call without ``left_out`` bit for bit, and each set agrees with inferring the
    reduced evidence within the two bounds."""
    from numbdx import _engine, _kernel
    from numbdx._triage import left_out_request

    if kernel == "numba":
        pytest.importorskip("numba", reason="the numba extra is not installed")
    model = numbdx.load_model()
    compiled = _engine._compile(model)
    ev = {"age": 45, "sex": "female", "numb_toes": True, "weakness": True, "swelling": True}
    evidence_ = normalise(model, ev)
    codes = _engine.codes_from_evidence(model, [evidence_])
    assert _engine.row_terms(compiled, codes.findings[0], int(codes.side[0])) < _engine.KERNEL_MIN_TERMS
    assert not _engine._extended_first(compiled, codes.findings, _engine.TARGET_ERROR)[0]
    names, left_out = left_out_request(model, evidence_.values)
    assert len(names) == 3  # weakness, swelling and both
    with _kernel.use(kernel):
        asked = _engine.infer_codes(model, codes, left_out=left_out)
        plain = _engine.infer_codes(model, codes)
    assert asked.error_bound[0] <= _engine.TARGET_ERROR  # answered in float64
    for name in ("posterior", "explains", "prior", "evidence_probability", "error_bound", "terms"):
        np.testing.assert_array_equal(getattr(asked, name), getattr(plain, name), err_msg=name)
    assert asked.left_out is not None and all(a is not None for a in asked.left_out)
    n_causes = len(model.causes)
    for left, (row, bound) in zip(names, asked.left_out):
        assert bound <= left_out.target_error
        reduced = normalise(model, {k: v for k, v in ev.items() if k not in left})
        direct = _engine.infer_codes(model, _engine.codes_from_evidence(model, [reduced]), with_prior=False)
        for c in left_out.causes:
            assert abs(row[c] - direct.posterior[0, c]) <= bound + direct.error_bound[0]
            assert abs(row[n_causes + c] - direct.explains[0, c]) <= bound + direct.error_bound[0]


def test_the_answers_own_elimination_answers_the_left_out_sets():
    """One patient asked with ``left_out`` (the triage's re-checks), eliminated in double-double from
    exact inputs: its own numbers are those of the call without ``left_out``, bit for bit; each set's
    answer is :func:`left_out_answers`'s (an elimination that keeps ``Z``, then masked sums), bit for
    bit; and each agrees with inferring the reduced evidence within the two bounds."""
    pytest.importorskip("numba", reason="the numba extra is not installed")
    from numbdx import _engine, _kernel

    model = numbdx.load_model()
    positives = ["numb_toes", "tingling", "burning", "aching_pain", "weakness", "swelling", "difficulty_walking"]
    ev = {"age": 70, "sex": "male", "smoking": True, "numbness_side": "left", **dict.fromkeys(positives, True)}
    ev |= {"speech_disturbance": False, "heaviness": True, "cramps_convulsions": True}
    evidence_ = normalise(model, ev)
    left = [("weakness",), ("swelling",), ("weakness", "swelling"), ("weakness", "swelling", "difficulty_walking")]
    subsets = tuple(tuple(model.finding_index[n] for n in names) for names in left)
    causes = tuple(model.cause_index[c] for c in ("stroke", "thrombosis", "diabetic_neuropathy"))
    request = _engine.LeftOut(subsets, causes, 1e-6)
    codes = _engine.codes_from_evidence(model, [evidence_])
    with _kernel.use("numba"):
        asked = _engine.infer_codes(model, codes, left_out=request)
        plain = _engine.infer_codes(model, codes)
        kept = _engine.left_out_answers(model, evidence_, request)
    assert plain.left_out is None
    for name in ("posterior", "explains", "prior", "evidence_probability", "error_bound", "terms"):
        np.testing.assert_array_equal(getattr(asked, name), getattr(plain, name), err_msg=name)
    assert asked.left_out is not None and all(a is not None for a in asked.left_out)
    n_causes = len(model.causes)
    for names, (row, bound), (kept_row, kept_bound) in zip(left, asked.left_out, kept):
        np.testing.assert_array_equal(row, kept_row)
        assert bound == kept_bound <= 1e-6
        reduced = normalise(model, {k: v for k, v in ev.items() if k not in names})
        direct = _engine.infer_codes(model, _engine.codes_from_evidence(model, [reduced]), with_prior=False)
        for c in causes:
            assert abs(row[c] - direct.posterior[0, c]) <= bound + direct.error_bound[0]
            assert abs(row[n_causes + c] - direct.explains[0, c]) <= bound + direct.error_bound[0]
    # on numpy from 256 terms (numpy's masked sums are taken below the kernels' terms only), and where a
    # left-out finding is not a positive of the evidence (difficulty_walking below), nothing is answered
    with _kernel.use("numpy"):
        assert _engine.infer_codes(model, codes, left_out=request).left_out is None
    small = _engine.codes_from_evidence(model, [normalise(model, {"age": 70, "weakness": True, "swelling": True})])
    assert _engine.infer_codes(model, small, left_out=request).left_out is None
    with pytest.raises(ValueError, match="one row, got 2 rows"):
        _engine.infer_codes(model, codes.take(np.array([0, 0])), left_out=request)
