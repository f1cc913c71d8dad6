"""``orchestrate-nb alert``: create, ls (with deliveries), test, rm; bad input is one line
and writes nothing. The same from Python."""

from __future__ import annotations

import pytest

from orchestrate_nb.alerts import create_alert, delete_alert, list_alerts, test_alert
from orchestrate_nb.blocks import EmailNotification, Secret, SlackWebhook
from orchestrate_nb.errors import AlertError, BlockNotFound


@pytest.fixture
def team(receiver, database_url):
    SlackWebhook(url=f"{receiver.url}/hook").save("team")
    return receiver


def test_create_ls_test_and_rm(cli, team, smtp_receiver):
    EmailNotification(smtp_server="127.0.0.1", smtp_port=smtp_receiver.port,
                      smtp_type="INSECURE", email_to=["oncall@example.com"]).save("oncall")
    created = cli("alert", "create", "etl-down", "--on", "failed,crashed", "--flow", "etl",
                  "--notify", "team", "--notify", "oncall")
    assert created.code == 0
    assert created.out.strip() == ("Created alert etl-down: on failed, crashed of flow etl → "
                                   "slack-webhook/team, email-notification/oncall")
    assert "no deliveries yet" in cli("alert", "ls").out
    tested = cli("alert", "test", "etl-down")
    assert tested.code == 0 and "Sent a test message to slack-webhook/team" in tested.out
    assert "Test of alert etl-down" in team.posts[0].json["text"]
    assert smtp_receiver.messages[0].rcpt_tos == ["oncall@example.com"]
    listed = cli("alert", "ls")
    assert listed.out.count("sent     test") == 2
    assert cli("alert", "rm", "etl-down").code == 0
    assert "No alerts" in cli("alert", "ls").out


def test_a_test_to_a_receiver_that_refuses_exits_1(cli, team):
    team.fail_first = 10
    cli("alert", "create", "a", "--on", "failed", "--notify", "team")
    tested = cli("alert", "test", "a")
    assert tested.code == 1 and "HTTP 500" in tested.out


@pytest.mark.parametrize(("argv", "message"), [
    (("--on", "failed", "--notify", "nobody"), "no block named 'nobody'"),
    (("--on", "exploded", "--notify", "team"), "unknown alert event 'exploded'"),
    (("--on", "failed", "--notify", "api-key"), "cannot send notifications"),
    (("--no-success-for", "soon", "--notify", "team"), "invalid duration 'soon'"),
    (("--notify", "team"), "needs events to fire on"),
    (("--on", "failed"), "at least one block to notify"),
    (("--on", "failed", "--deployment", "nope", "--notify", "team"),
     "no deployment named 'nope'"),
])
def test_bad_input_is_one_line_and_writes_nothing(cli, team, query, argv, message):
    Secret(value="s3cr3t-value").save("api-key")
    result = cli("alert", "create", "bad", *argv)
    assert result.code == 1
    assert result.err.count("\n") == 1 and message in result.err
    assert query("SELECT name FROM alerts") == []


def test_a_duplicate_name_needs_overwrite(cli, team, query):
    assert cli("alert", "create", "a", "--on", "failed", "--notify", "team").code == 0
    again = cli("alert", "create", "a", "--on", "crashed", "--notify", "team")
    assert again.code == 1 and "exists already" in again.err
    assert query("SELECT events FROM alerts")[0]["events"] in (["failed"], '["failed"]')
    assert cli("alert", "create", "a", "--on", "crashed", "--notify", "team",
               "--overwrite").code == 0


def test_the_same_from_python(team):
    alert = create_alert("py-alert", ["failed", "late"], notify=["slack-webhook/team"],
                         tag="critical", no_success_for="2d")
    assert (alert.events, alert.tag, alert.no_success_for_seconds) == (
        ["failed", "late"], "critical", 172800.0)
    assert [a.name for a in list_alerts()] == ["py-alert"]
    [outcome] = test_alert("py-alert")
    assert outcome.status == "sent" and len(team.posts) == 1
    with pytest.raises(AlertError, match="at most one of"):
        create_alert("two-scopes", ["failed"], notify=["team"], flow="f", tag="t")
    with pytest.raises(BlockNotFound):
        create_alert("no-block", ["failed"], notify=["missing"])
    delete_alert("py-alert")
    assert list_alerts() == []
