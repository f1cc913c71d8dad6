"""Fresh virtualenvs for the packaging and Binder tests, and tests/ui's helpers
(``ui.start_lab``, the browser fixtures), loaded from that folder's conftest."""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VERSION = "0.1.0"

_spec = importlib.util.spec_from_file_location("orchestrate_ui_conftest",
                                               REPO / "tests" / "ui" / "conftest.py")
assert _spec is not None and _spec.loader is not None
ui = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ui  # dataclasses look their module up
_spec.loader.exec_module(ui)


@dataclass(frozen=True)
class Venv:
    root: Path
    env: dict[str, str]

    @property
    def python(self) -> str:
        return str(self.root / "bin" / "python")

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def run(self, *args: str, timeout: float = 600, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=cwd)


def pip_cache() -> str:
    """pip's cache of the user running the tests (kept across runs: downloads once)."""
    return os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


def make_venv(base: Path, path_after: str = "") -> Venv:
    """A virtualenv under ``base`` with an environment of its own: PATH is its bin folder
    (then ``path_after``), HOME, Jupyter's folders and ORCHESTRATE_NB_HOME are under
    ``base``, and nothing points at this tree (no PYTHONPATH)."""
    root = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    (base / "home").mkdir()
    path = str(root / "bin") + (os.pathsep + path_after if path_after else "")
    env = {"PATH": path, "HOME": str(base / "home"), "LANG": "C.UTF-8",
           "PIP_CACHE_DIR": pip_cache(), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           "JUPYTER_CONFIG_DIR": str(base / "jupyter_config"),
           "JUPYTER_DATA_DIR": str(base / "jupyter_data"),
           "JUPYTER_RUNTIME_DIR": str(base / "jupyter_runtime"),
           "ORCHESTRATE_NB_HOME": str(base / "orchestrate_home")}
    return Venv(root, env)


@contextmanager
def start_notebook7(base: Path, venv: Venv) -> Iterator[Any]:
    """Notebook 7 (``jupyter notebook``) of ``venv`` on 127.0.0.1, its root under ``base``."""
    root = base / "root"
    root.mkdir()
    port, token = ui._free_port(), secrets.token_hex(16)
    env = {**venv.env, "JUPYTER_CONFIG_DIR": str(base / "config"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime")}
    log = base / "notebook.log"
    command = [venv.python, "-m", "jupyter", "notebook", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}"]
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        ui._wait_until_up(url, token, server, log)
        yield ui.Lab(url, token, root, None, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
