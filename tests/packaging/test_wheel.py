"""The wheel carries the labextension prebuilt. Built from this tree (the build hook runs
Node only when orchestrate_nb/labextension is not built yet) and installed into a fresh
virtualenv whose PATH has no ``node``, it gives a JupyterLab that lists orchestrate-nb and
orchestrate_nb.server as OK and loads the sidebar with no console errors from us.

Slow: a virtualenv with every dependency (pip's cache keeps the downloads between runs).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fresh_venv import REPO, VERSION, Venv, make_venv, start_notebook7, ui

pytestmark = pytest.mark.slow

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def listing(done: subprocess.CompletedProcess[str]) -> str:
    return ANSI.sub("", done.stdout + done.stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, built with this interpreter's build tools (no isolation: the
    hook's jupyter-builder and jlpm are installed here)."""
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "-w", str(out), str(REPO)],
                          env=env, capture_output=True, text=True, timeout=1200, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [built] = out.glob("orchestrate_nb-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """A fresh virtualenv with the wheel installed; its PATH has no Node.js."""
    installed = make_venv(tmp_path_factory.mktemp("wheel_venv"))
    assert shutil.which("node", path=installed.env["PATH"]) is None
    done = installed.run(installed.python, "-m", "pip", "install", "--quiet", str(wheel),
                         timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield installed


# The oldest JupyterLab the wheel allows (pyproject: jupyterlab>=4.0): the bundle's shared
# modules must load there too (no "Federation Runtime" refusal, no error from us).
FLOOR_JUPYTERLAB = "jupyterlab==4.0.*"


@pytest.fixture(scope="module")
def floor_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    installed = make_venv(tmp_path_factory.mktemp("floor_venv"))
    done = installed.run(installed.python, "-m", "pip", "install", "--quiet", str(wheel),
                         FLOOR_JUPYTERLAB, timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    yield installed


def _sidebar_loads(lab: Any, page: Any, screenshot: Path) -> None:
    page.goto(f"{lab.url}/lab/workspaces/wheel?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    page.locator('.jp-SideBar.jp-mod-left [data-id="orchestrate-nb-sidebar"]').click()
    sidebar = page.locator('[data-testid="onb-sidebar"]')
    sidebar.locator('[data-testid="onb-runs-empty"], [data-testid="onb-runs-list"]').wait_for()
    assert sidebar.locator('[role="tab"]').all_inner_texts() == [
        "Runs", "Deployments", "Approvals", "Alerts"]
    page.screenshot(path=str(screenshot))
    assert not page.console.problems
    page.goto("about:blank")  # before the server stops: no request left to fail


def test_the_wheel_holds_the_prebuilt_labextension_and_the_server_switch(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = f"orchestrate_nb-{VERSION}.data/data"
    lab = f"{data}/share/jupyter/labextensions/orchestrate-nb"
    assert f"{lab}/package.json" in names and f"{lab}/install.json" in names
    assert any(re.fullmatch(rf"{lab}/static/remoteEntry\.[0-9a-f]+\.js", n) for n in names)
    assert f"{lab}/static/style.js" in names
    assert f"{lab}/schemas/orchestrate-nb/plugin.json" in names
    assert f"{data}/etc/jupyter/jupyter_server_config.d/orchestrate_nb.json" in names
    assert "orchestrate_nb/notebook/graph/static/graph.js" in names


def test_installed_without_node_jupyter_lists_both_extensions_ok(venv: Venv) -> None:
    listed = listing(venv.run(venv.bin("jupyter"), "labextension", "list"))
    assert re.search(rf"orchestrate-nb v{VERSION} enabled OK \(python, orchestrate_nb\)",
                     listed), listed
    listed = listing(venv.run(venv.bin("jupyter"), "server", "extension", "list"))
    assert re.search(r"orchestrate_nb\.server enabled", listed), listed
    assert re.search(r"orchestrate_nb\.server\s+(\S+\s+)?OK", listed), listed


def test_jupyterlab_of_the_fresh_venv_loads_the_sidebar_with_no_console_errors(
        venv: Venv, page: Any, artifacts: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.mktemp("wheel_lab")
    with ui.start_lab(base, python=venv.python, extension="installed",
                      env=venv.env) as lab:
        _sidebar_loads(lab, page, artifacts / "wheel_sidebar.png")


def test_the_oldest_jupyterlab_allowed_loads_the_sidebar_with_no_console_errors(
        floor_venv: Venv, page: Any, artifacts: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    version = floor_venv.run(floor_venv.bin("jupyter"), "lab", "--version").stdout.strip()
    assert version.startswith("4.0."), version
    base = tmp_path_factory.mktemp("floor_lab")
    with ui.start_lab(base, python=floor_venv.python, extension="installed",
                      env=floor_venv.env) as lab:
        _sidebar_loads(lab, page, artifacts / "wheel_sidebar_jupyterlab_4_0.png")


FLOW_CELL = """\
from orchestrate_nb import flow, task

@task
def first():
    return 1

@task
def second(x):
    raise ValueError("second failed")

@flow(name="nb7-demo")
def demo():
    second.submit(first.submit())

demo(return_state=True)
"""


def test_notebook7_with_the_wheel_draws_a_saved_run_graph(
        venv: Venv, page: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    import nbformat
    from nbclient import NotebookClient

    done = venv.run(venv.python, "-m", "pip", "install", "--quiet", "notebook>=7,<8",
                    timeout=1800)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    base = tmp_path_factory.mktemp("notebook7")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOW_CELL)])
    work = base / "work"
    work.mkdir()
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(base / "kernel_home"))  # the kernel's
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    with start_notebook7(base, venv) as server:
        nbformat.write(notebook, server.root / "nb7.ipynb")  # saved, no kernel running
        page.goto(f"{server.url}/notebooks/nb7.ipynb?token={server.token}")
        view = page.locator('[data-testid="onb-saved-graph-view"]')
        view.wait_for(timeout=60_000)
        assert page.locator('[data-testid="onb-saved-graph"]').count() == 0
        states = page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll(
            '[data-testid="onb-saved-graph-view"] [data-testid="onb-node"]'))
            .map(n => [n.dataset.label, n.dataset.state]))""")
        assert states == {"first-0": "completed", "second-0": "failed"}
        view.locator('[data-testid="onb-node"][data-label="second-0"]').hover()
        panel = view.locator('[data-testid="onb-logs"]')
        panel.locator(".onb-graph__message", has_text="ValueError: second failed").wait_for()
        view.screenshot(path=str(artifacts / "notebook7_saved_graph.png"))
        page.goto("about:blank")
