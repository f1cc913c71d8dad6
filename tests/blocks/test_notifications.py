"""Notification blocks deliver to real receivers on 127.0.0.1 in each format; failures are
logged (or raised inside ``raise_on_failure``) and never name the secret URL."""

from __future__ import annotations

import logging
from email import message_from_bytes

import pytest

from orchestrate_nb.blocks import (
    AppriseNotificationBlock,
    CustomWebhookNotificationBlock,
    EmailNotification,
    MicrosoftTeamsWebhook,
    SlackWebhook,
)
from orchestrate_nb.errors import NotificationError


def test_slack_gets_the_subject_and_body_as_text(receiver):
    SlackWebhook(url=f"{receiver.url}/services/T/B/x").notify("run failed", "Alert")
    assert receiver.posts[0].path == "/services/T/B/x"
    assert receiver.posts[0].json == {"text": "*Alert*\nrun failed"}


def test_teams_gets_a_message_card(receiver):
    MicrosoftTeamsWebhook(url=f"{receiver.url}/teams").notify("line one\nline two", "Alert")
    card = receiver.posts[0].json
    assert card["@type"] == "MessageCard"
    assert (card["title"], card["summary"]) == ("Alert", "Alert")
    assert "line one" in card["text"] and "line two" in card["text"]


def test_a_custom_webhook_fills_its_templates_and_secrets(receiver):
    block = CustomWebhookNotificationBlock(
        name="ops", url=f"{receiver.url}/hook", params={"source": "{{name}}"},
        json_data={"title": "{{subject}}", "text": "{{body}}"},
        headers={"Authorization": "Bearer {{token}}"}, secrets={"token": "tok-123456"})
    block.notify("the body", "the subject")
    post = receiver.posts[0]
    assert post.path == "/hook?source=ops"
    assert post.json == {"title": "the subject", "text": "the body"}
    assert post.headers["Authorization"] == "Bearer tok-123456"


def test_an_apprise_url_is_delivered(receiver):
    port = receiver.server.server_address[1]
    AppriseNotificationBlock(url=f"json://127.0.0.1:{port}/apprise").notify("body", "subject")
    assert receiver.posts[0].path == "/apprise"
    assert (receiver.posts[0].json["title"], receiver.posts[0].json["message"]) == \
        ("subject", "body")


def test_email_goes_through_a_real_smtp_server(smtp_receiver):
    EmailNotification(smtp_server="127.0.0.1", smtp_port=smtp_receiver.port,
                      smtp_type="INSECURE", email_from="bot@example.com",
                      email_to=["data@example.com"]).notify("the run failed", "Alert")
    envelope = smtp_receiver.messages[0]
    assert envelope.rcpt_tos == ["data@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["Subject"] == "Alert"
    assert "the run failed" in message.get_payload()


def test_a_failure_is_logged_not_raised_unless_asked(receiver, caplog):
    receiver.fail_first = 10
    block = SlackWebhook(url=f"{receiver.url}/secret-path-42")
    with caplog.at_level(logging.ERROR, logger="orchestrate_nb.notifications"):
        block.notify("body")
    assert "HTTP 500" in caplog.text and "secret-path-42" not in caplog.text
    with pytest.raises(NotificationError, match="HTTP 500") as caught, block.raise_on_failure():
        block.notify("body")
    assert "secret-path-42" not in str(caught.value)


def test_an_unreachable_receiver_is_a_clear_error():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    block = SlackWebhook(url=f"http://127.0.0.1:{port}/x")
    with pytest.raises(NotificationError, match="could not be reached"), \
            block.raise_on_failure():
        block.notify("body")


def test_bad_urls_and_addresses_are_refused():
    with pytest.raises(ValueError, match="http:// or https://"):
        SlackWebhook(url="ftp://example.com/x")
    with pytest.raises(ValueError, match="Apprise"):
        AppriseNotificationBlock(url="nonsense://")
    with pytest.raises(ValueError, match="not an email address"):
        EmailNotification(smtp_server="x", email_to=["nobody"])
