"""``orchestrate-nb concurrency-limit create | ls | rm``."""

from __future__ import annotations

import pytest

from orchestrate_nb.concurrency import concurrency


def test_create_then_ls_shows_the_limit_its_active_slots_and_holders(limits, cli):
    assert cli("concurrency-limit", "create", "db", "2").out.strip() == (
        "Created concurrency limit 'db': 2 slot(s).")
    cli("concurrency-limit", "create", "api", "5", "--slot-decay-per-second", "0.5")

    with concurrency("db", holder={"type": "flow_run", "id": "nightly-etl"}):
        listed = cli("concurrency-limit", "ls")

    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0] == "2 concurrency limits"
    api_row = next(line for line in lines if " api " in line)
    db_row = next(line for line in lines if " db " in line)
    assert api_row.split("│")[2:5] == ["     5 ", "            0 ", "     0.5 "]
    assert db_row.split("│")[2:4] == ["     2 ", "            1 "]
    assert "nightly-etl: 1 slot(s), pid" in db_row


def test_creating_an_existing_limit_updates_it(limits, cli):
    cli("concurrency-limit", "create", "db", "2")
    result = cli("concurrency-limit", "create", "db", "4")
    assert result.out.strip() == "Updated concurrency limit 'db': 4 slot(s)."
    assert [(i.name, i.limit) for i in limits.store.list_limits()] == [("db", 4)]


def test_rm_removes_the_limit_and_releases_its_slots(limits, cli):
    cli("concurrency-limit", "create", "db", "1")
    with concurrency("db"):
        result = cli("concurrency-limit", "rm", "db")
    assert result.code == 0
    assert result.out.strip() == "Removed concurrency limit 'db' (1 held slot(s) released)."
    assert limits.store.list_limits() == []
    assert cli("concurrency-limit", "ls").out.strip().startswith("No concurrency limits.")


@pytest.mark.parametrize(("argv", "message"), [
    (("create", "db", "two"), "Error: invalid limit 'two': give a whole number of slots, "
                              "at least 1"),
    (("create", "db", "0"), "Error: invalid limit '0': give a whole number of slots, "
                            "at least 1"),
    (("create", "db", "1.5"), "Error: invalid limit '1.5': give a whole number of slots, "
                              "at least 1"),
    (("create", "db", "2", "--slot-decay-per-second", "fast"),
     "Error: invalid --slot-decay-per-second 'fast': give a positive number"),
    (("create", " ", "2"), "Error: a concurrency limit needs a name (the tag it limits)"),
    (("rm", "nope"), "Error: no concurrency limit named 'nope' "
                     "(orchestrate-nb concurrency-limit ls lists them)"),
])
def test_bad_input_is_one_line_and_exit_status_1(limits, cli, argv, message):
    result = cli("concurrency-limit", *argv)
    assert (result.code, result.out, result.err) == (1, "", message + "\n")
