"""Variables: JSON values by name, from Python (sync and async) and the CLI; bad names,
values that JSON cannot hold and taken names without overwrite are one line each."""

from __future__ import annotations

import asyncio

import pytest

from orchestrate_nb.errors import VariableError
from orchestrate_nb.variables import Variable


def test_set_get_and_unset(database_url):
    variable = Variable.set("regions", ["eu", "us"], tags=["prod"])
    assert (variable.name, variable.value, variable.tags) == ("regions", ["eu", "us"], ["prod"])
    assert Variable.get("regions") == ["eu", "us"]
    assert Variable.get("missing", default=7) == 7
    assert Variable.unset("regions") is True
    assert Variable.get("regions") is None
    assert Variable.unset("regions") is False


def test_a_taken_name_needs_overwrite(database_url):
    Variable.set("threshold", 5)
    with pytest.raises(VariableError, match="exists already"):
        Variable.set("threshold", 6)
    assert Variable.get("threshold") == 5
    Variable.set("threshold", 6, overwrite=True)
    assert Variable.get("threshold") == 6


def test_bad_names_and_values_are_refused_and_nothing_is_written(database_url, query):
    with pytest.raises(VariableError, match="invalid variable name"):
        Variable.set("Has Space", 1)
    with pytest.raises(VariableError, match="JSON value"):
        Variable.set("obj", object())
    with pytest.raises(VariableError, match="JSON value"):
        Variable.set("nan", float("nan"))
    assert query("SELECT name FROM variables") == []


def test_async_twins(database_url):
    async def use() -> object:
        await Variable.aset("mode", {"fast": True})
        value = await Variable.aget("mode")
        await Variable.aunset("mode")
        return value

    assert asyncio.run(use()) == {"fast": True}
    assert Variable.get("mode") is None


def test_the_cli_sets_gets_lists_and_unsets(cli, database_url):
    assert cli("variable", "set", "region", "eu-west-1").code == 0
    assert cli("variable", "set", "limits", '{"rows": 100}').code == 0
    assert cli("variable", "get", "region").out == "eu-west-1\n"
    assert Variable.get("limits") == {"rows": 100}
    listed = cli("variable", "ls")
    assert "region" in listed.out and '{"rows": 100}' in listed.out
    taken = cli("variable", "set", "region", "x")
    assert taken.code == 1 and taken.err.count("\n") == 1 and "--overwrite" in taken.err
    assert cli("variable", "set", "region", "x", "--overwrite").code == 0
    assert cli("variable", "unset", "region").code == 0
    missing = cli("variable", "get", "region")
    assert missing.code == 1 and "no variable named 'region'" in missing.err
