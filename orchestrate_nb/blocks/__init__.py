"""Blocks: named, saved configuration, with secret fields encrypted (Prefect's blocks).

``orchestrate_nb.blocks.core.Block`` is the base; ``blocks.system`` has ``Secret``,
``JSON`` and ``String``; ``blocks.notifications`` the notification blocks. The names are
re-exported here too.
"""

from __future__ import annotations

from orchestrate_nb.blocks.core import Block
from orchestrate_nb.blocks.notifications import (
    AppriseNotificationBlock,
    CustomWebhookNotificationBlock,
    EmailNotification,
    MicrosoftTeamsWebhook,
    NotificationBlock,
    SlackWebhook,
)
from orchestrate_nb.blocks.system import JSON, Secret, String

__all__ = ["JSON", "AppriseNotificationBlock", "Block", "CustomWebhookNotificationBlock",
           "EmailNotification", "MicrosoftTeamsWebhook", "NotificationBlock", "Secret",
           "SlackWebhook", "String"]
