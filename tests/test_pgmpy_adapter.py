"""``Model.to_pgmpy()``: a valid pgmpy network with small tables, exact decomposition, and exports."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from .strategies import SUBMODEL_CAUSES


@pytest.fixture(scope="module")
def network(model):
    return model.to_pgmpy()


def test_full_network_is_valid_and_keeps_evidence_names(model, network):
    assert network.check_model()
    nodes = set(network.nodes())
    assert set(model.evidence_names()) | set(model.cause_names) <= nodes
    for name in [v.name for v in model.upper[2:]] + list(model.cause_names) + ["leg_numbness", "numb_heel"]:
        assert network.get_cpds(name).state_names[name] == ["True", "False"], name
    assert network.get_cpds("numbness_side").state_names["numbness_side"] == ["none", "left", "right", "both"]
    assert network.get_cpds("numbness_onset").state_names["numbness_onset"] == ["sudden", "gradual", "none"]


def test_no_table_grows_with_the_number_of_causes(model, network):
    n_causes = len(model.causes)
    largest = max(cpd.values.size for cpd in network.get_cpds())
    side_parents = len(model.findings[model.side_index].parents)
    assert side_parents >= n_causes - 1  # the chief complaint really has (almost) every cause as a parent
    assert largest <= 2**10, largest  # against 4 * 2**side_parents for an undecomposed side table
    assert max(len(cpd.variables) for cpd in network.get_cpds()) <= 7 + 1


@pytest.mark.parametrize("causes", SUBMODEL_CAUSES)
def test_decomposition_is_exact(model, causes):
    """The OR-chain network and the full-table network give the same marginals, with evidence."""
    from pgmpy.inference import VariableElimination

    sub = model.submodel(causes)
    chained, tabled = sub.to_pgmpy(max_table_parents=0), sub.to_pgmpy(max_table_parents=99)
    assert len(chained.nodes()) > len(tabled.nodes())
    evidence = sub.pgmpy_evidence({"sex": "female", "numbness_side": "left"})
    variables = [v for v in (*sub.evidence_names(), *sub.cause_names) if v not in evidence]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = VariableElimination(chained), VariableElimination(tabled)
        for v in variables:
            qa = a.query([v], evidence=evidence, show_progress=False)
            qb = b.query([v], evidence=evidence, show_progress=False)
            np.testing.assert_allclose(qa.values, qb.values, rtol=0, atol=1e-12, err_msg=v)


def test_exports_with_pgmpy_writers_and_loads_in_pyagrum(network, tmp_path):
    gum = pytest.importorskip("pyagrum")
    from pgmpy.readwrite import BIFReader, BIFWriter, XMLBIFWriter

    BIFWriter(network).write(str(tmp_path / "numbdx.bif"))
    XMLBIFWriter(network).write(str(tmp_path / "numbdx.xml"))
    assert (tmp_path / "numbdx.xml").stat().st_size > 0
    bn = gum.loadBN(str(tmp_path / "numbdx.bif"))
    assert bn.size() == len(network.nodes())
    assert set(bn.names()) == set(network.nodes())
    # the BIF text itself holds full precision: pgmpy reads back the same tables
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = BIFReader(str(tmp_path / "numbdx.bif")).get_model()
    for cpd in network.get_cpds():
        mine, theirs = cpd.to_factor(), back.get_cpds(cpd.variable).to_factor()
        assert all(theirs.state_names[v] == mine.state_names[v] for v in mine.variables), cpd.variable
        aligned = np.transpose(theirs.values, [theirs.variables.index(v) for v in mine.variables])
        np.testing.assert_allclose(aligned, mine.values, rtol=1e-15, atol=0, err_msg=cpd.variable)


def test_pgmpy_evidence_uses_state_names(model):
    ev = model.pgmpy_evidence({"age": 72, "sex": "male", "diabetes": True, "numbness_side": "both"})
    assert ev == {"age": "65_plus", "sex": "male", "diabetes": "True", "leg_numbness": "True", "numbness_side": "both"}
