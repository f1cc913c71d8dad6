"""Helpers for the alert tests: a Slack block pointing at the receiver, an alert on it."""

from __future__ import annotations

from typing import Any

from orchestrate_nb.alerts import create_alert
from orchestrate_nb.blocks import SlackWebhook


def slack_alert(receiver: Any, name: str = "on-failure", on: Any = ("failed",),
                **scope: Any) -> str:
    SlackWebhook(url=f"{receiver.url}/services/{name}").save("team", overwrite=True)
    create_alert(name, on, notify=["team"], **scope)
    return name


def texts(receiver: Any) -> list[str]:
    return [post.json["text"] for post in receiver.posts]
