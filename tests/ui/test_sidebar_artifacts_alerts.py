"""The sidebar's Alerts tab in a real JupyterLab: an alert with a recorded delivery (its
state chip and error line), a Secret block shown masked (its value nowhere in the page) and
a variable as short JSON; in the light and dark themes. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sidebar_helpers import open_lab, open_sidebar, run_python
from test_sidebar_dark_theme import set_theme

pytestmark = pytest.mark.ui

SECRET_VALUE = "ui-s3cr3t-never-on-the-page-4b1d"
WEBHOOK_TOKEN = "ui-webhook-token-never-on-the-page-9c3e"

SEED = f"""
import socket
from orchestrate_nb.alerts import create_alert, test_alert
from orchestrate_nb.blocks import Secret, SlackWebhook
from orchestrate_nb.variables import Variable

with socket.socket() as sock:  # a port nothing listens on: the delivery fails
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
Secret(value="{SECRET_VALUE}").save("warehouse-password", overwrite=True)
SlackWebhook(url=f"http://127.0.0.1:{{port}}/services/{WEBHOOK_TOKEN}").save(
    "data-team", overwrite=True)
create_alert("etl-failures", ["failed", "crashed"], notify=["data-team"], tag="etl",
             overwrite=True)
[outcome] = test_alert("etl-failures")
assert outcome.status != "sent", outcome
Variable.set("max_rows", {{"limit": 5000, "regions": ["eu", "us"]}}, overwrite=True)
"""


def _check_alerts_tab(page: Any) -> Any:
    sidebar = open_sidebar(page)
    sidebar.locator('[data-testid="onb-tab-alerts"]').click()
    alert = sidebar.locator('[data-testid="onb-alert"]', has_text="etl-failures")
    alert.wait_for()
    assert "failed, crashed" in alert.inner_text() and "tag etl" in alert.inner_text()
    delivery = alert.locator('[data-testid="onb-alert-delivery"]')
    assert delivery.count() == 1
    assert delivery.locator(".onb-chip").inner_text().strip() in ("failed", "retrying")
    assert "slack-webhook/data-team" in delivery.inner_text()
    assert delivery.locator(".onb-alerts__error").inner_text().strip()
    block = sidebar.locator('[data-testid="onb-block"]', has_text="warehouse-password")
    assert "value: \"**********\"" in block.inner_text()
    webhook = sidebar.locator('[data-testid="onb-block"]', has_text="data-team")
    assert "**********" in webhook.inner_text()
    variable = sidebar.locator('[data-testid="onb-variable"]', has_text="max_rows")
    assert '{"limit":5000,"regions":["eu","us"]}' in variable.inner_text()
    html = page.content()
    assert SECRET_VALUE not in html and WEBHOOK_TOKEN not in html
    return sidebar


def test_the_alerts_tab_lists_alerts_blocks_and_variables(lab: Any, page: Any,
                                                          artifacts: Path) -> None:
    run_python(lab, SEED)
    open_lab(page, lab, "alerts-light")
    sidebar = _check_alerts_tab(page)
    sidebar.screenshot(path=str(artifacts / "sidebar_alerts_light.png"))
    set_theme(lab, "JupyterLab Dark")
    try:
        open_lab(page, lab, "alerts-dark")
        page.wait_for_selector('body[data-jp-theme-light="false"]', state="attached")
        sidebar = _check_alerts_tab(page)
        sidebar.screenshot(path=str(artifacts / "sidebar_alerts_dark.png"))
    finally:
        set_theme(lab, "JupyterLab Light")
