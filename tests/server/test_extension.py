"""How the extension is found and enabled, and what importing the package costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orchestrate_nb

REPOSITORY = Path(orchestrate_nb.__file__).resolve().parent.parent


def test_the_config_file_enables_the_extension() -> None:
    config = REPOSITORY / "jupyter-config" / "server-config" / "orchestrate_nb.json"
    assert json.loads(config.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"orchestrate_nb.server": True}}}


def test_the_extension_point_names_the_app() -> None:
    from orchestrate_nb.server import _jupyter_server_extension_points
    from orchestrate_nb.server.app import OrchestrateApp

    assert _jupyter_server_extension_points() == [
        {"module": "orchestrate_nb.server", "app": OrchestrateApp}]
    assert OrchestrateApp.name == "orchestrate_nb"


def test_importing_the_package_imports_no_jupyter_server_and_the_app_no_sqlalchemy() -> None:
    code = ("import sys, orchestrate_nb, orchestrate_nb.server\n"
            "print('jupyter_server' in sys.modules)\n"
            "import orchestrate_nb.server.app\n"
            "print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
