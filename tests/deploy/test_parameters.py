"""A notebook's parameters cell declares what a deployment or a trigger may pass."""

from __future__ import annotations

import pytest
from deploy_helpers import write_notebook

from orchestrate_nb.deploy.parameters import (
    check_parameters,
    parse_key_values,
    parse_parameters_cell,
    read_notebook_parameters,
)
from orchestrate_nb.errors import DeploymentError


def test_the_parameters_cell_declares_names_types_and_defaults(notebook):
    declared = read_notebook_parameters(notebook).parameters
    assert {name: (p.type, p.default) for name, p in declared.items()} == {
        "n": (int, 3), "day": (str, "mon"), "rate": (float, 0.5), "verbose": (bool, False),
        "items": (list, [1, 2])}


def test_an_annotation_decides_the_type_over_the_literal():
    declared = parse_parameters_cell("threshold: float = 1\nwhen = None\n")
    assert declared["threshold"].type is float
    assert declared["when"].type is None  # None says nothing: any value


def test_command_line_strings_are_converted_by_the_declared_type(notebook):
    declared = read_notebook_parameters(notebook)
    given = {"n": "7", "day": "tue", "rate": "2", "verbose": "true", "items": "[3]"}
    assert check_parameters(declared, given) == {
        "n": 7, "day": "tue", "rate": 2.0, "verbose": True, "items": [3]}


def test_an_int_is_accepted_for_a_float(notebook):
    assert check_parameters(read_notebook_parameters(notebook), {"rate": 2}) == {"rate": 2.0}


def test_an_unknown_parameter_is_refused_naming_it_and_the_declared_ones(notebook):
    with pytest.raises(DeploymentError, match=r"unknown parameter 'x' \(the notebook's "
                                              r"parameters cell declares: n, day, rate"):
        check_parameters(read_notebook_parameters(notebook), {"x": 1})


@pytest.mark.parametrize("value", ["abc", True, 2.5, [1]])
def test_a_wrong_type_is_refused_naming_the_parameter(notebook, value):
    with pytest.raises(DeploymentError, match="parameter 'n' expects int, got"):
        check_parameters(read_notebook_parameters(notebook), {"n": value})


def test_a_notebook_without_a_parameters_cell_accepts_no_parameters_and_says_why(tmp_path):
    path = write_notebook(tmp_path / "plain.ipynb", parameters=None)
    with pytest.raises(DeploymentError, match="no cell tagged 'parameters'"):
        check_parameters(read_notebook_parameters(path), {"n": 1})


def test_a_missing_notebook_is_named(tmp_path):
    with pytest.raises(DeploymentError, match="notebook not found: .*missing.ipynb"):
        read_notebook_parameters(tmp_path / "missing.ipynb")


def test_key_value_pairs_need_an_equals_sign():
    assert parse_key_values(["n=3", "expr=a=b"]) == {"n": "3", "expr": "a=b"}
    with pytest.raises(DeploymentError, match="NAME=VALUE"):
        parse_key_values(["n"])
