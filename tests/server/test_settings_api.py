"""``GET variables``, ``GET blocks`` and ``GET alerts`` through both adapters: what the
sidebar's Alerts tab lists, with secrets masked."""

from __future__ import annotations

import json
import socket
from typing import Any

from orchestrate_nb.alerts import create_alert, test_alert
from orchestrate_nb.blocks import Secret, SlackWebhook
from orchestrate_nb.variables import Variable

SECRET_VALUE = "s3cr3t-value-never-shown-7f2c"
WEBHOOK_TOKEN = "T000-webhook-token-never-shown-91ab"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block posts to it


async def test_empty_store_lists_nothing(api: Any) -> None:
    for path in ("variables", "blocks", "alerts"):
        status, body = await api("GET", path)
        assert status == 200 and body == {path: []}


async def test_variables_blocks_and_alerts_with_a_failed_delivery(api: Any) -> None:
    Variable.set("threshold", {"max": 3, "labels": ["a", "b"]})
    Secret(value=SECRET_VALUE).save("api-key")
    url = f"http://127.0.0.1:{_closed_port()}/services/{WEBHOOK_TOKEN}"
    SlackWebhook(url=url).save("team")
    create_alert("on-failure", ["failed", "crashed"], notify=["team"], tag="critical")
    [outcome] = test_alert("on-failure")
    assert outcome.status != "sent"

    status, body = await api("GET", "variables")
    assert status == 200
    [variable] = body["variables"]
    assert (variable["name"], variable["value"]) == ("threshold",
                                                    {"max": 3, "labels": ["a", "b"]})
    assert variable["updated"].endswith("Z")  # UTC, like every API time

    status, body = await api("GET", "blocks")
    assert status == 200
    blocks = {b["ref"]: b for b in body["blocks"]}
    assert set(blocks) == {"secret/api-key", "slack-webhook/team"}
    assert blocks["secret/api-key"]["data"]["value"] == "**********"
    assert blocks["secret/api-key"]["secret_fields"] == ["value"]
    assert blocks["slack-webhook/team"]["data"]["url"] == "**********"

    status, body = await api("GET", "alerts")
    assert status == 200
    [alert] = body["alerts"]
    assert (alert["name"], alert["events"], alert["tag"], alert["notify"]) == (
        "on-failure", ["failed", "crashed"], "critical", ["slack-webhook/team"])
    [delivery] = alert["deliveries"]
    assert delivery["status"] in ("failed", "retrying")
    assert delivery["target"] == "slack-webhook/team" and delivery["event"] == "test"
    assert delivery["error"] and "\n" not in delivery["error"]
    assert delivery["created"] is not None and "body" not in delivery


async def test_no_secret_value_in_any_response(api: Any) -> None:
    Secret(value=SECRET_VALUE).save("api-key")
    url = f"http://127.0.0.1:{_closed_port()}/services/{WEBHOOK_TOKEN}"
    SlackWebhook(url=url).save("team")
    create_alert("on-failure", ["failed"], notify=["team"])
    test_alert("on-failure")
    for path in ("variables", "blocks", "alerts", "runs", "status", "meta"):
        status, body = await api("GET", path)
        assert status == 200, path
        text = json.dumps(body)
        assert SECRET_VALUE not in text and WEBHOOK_TOKEN not in text, path
        assert "encrypted" not in text, path


async def test_a_new_variable_block_or_delivery_moves_the_change_cursor(api: Any) -> None:
    """The Alerts tab is live: ``changes`` reports what it lists changing."""
    import asyncio

    async def changed_after(action: Any) -> bool:
        status, before = await api("GET", "status")
        await asyncio.sleep(0.6)  # past the tracker's reuse window
        action()
        for _ in range(50):
            status, changes = await api("GET", "changes", params={"cursor": before["cursor"]})
            if changes["changed"]:
                return True
            await asyncio.sleep(0.1)
        return False

    assert await changed_after(lambda: Variable.set("threshold", 3))
    assert await changed_after(lambda: Secret(value=SECRET_VALUE).save("api-key"))
    url = f"http://127.0.0.1:{_closed_port()}/services/{WEBHOOK_TOKEN}"
    SlackWebhook(url=url).save("team")
    create_alert("on-failure", ["failed"], notify=["team"])
    assert await changed_after(lambda: test_alert("on-failure"))
