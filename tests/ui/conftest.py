"""A real JupyterLab and a real browser for the UI tests.

JupyterLab runs from this interpreter (``sys.executable -m jupyter lab``) on 127.0.0.1, a
free port and a random token, with its root, config, workspaces and orchestrate_nb home in a
temporary directory; it is stopped at the end of the session. Chromium is Debian's
(``/usr/bin/chromium``, installed by ``.ci/run``): test tools cannot download browsers here.
Without it the tests skip, except in CI (``CI`` set), where they fail.

Our labextension is loaded from the install when one is there (``pip install`` puts it in
``share/jupyter/labextensions/orchestrate-nb``), else from this source tree's build
(``orchestrate_nb/labextension``, made by ``jlpm build``), through a temporary folder given
to ``--LabApp.extra_labextensions_path``; the server extension is switched on on the command
line when the install did not. Every page's console is collected, and a test fails on an
error from our extension (its bundle, or a request to ``/orchestrate/api/``) and on a
"Federation Runtime" warning (a bundle built for another JupyterLab's module sharing).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("ORCHESTRATE_NB_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
LABEXTENSION = "orchestrate-nb"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--headless=new"]
ARTIFACTS = REPO / "test-artifacts" / "ui"


@dataclass(frozen=True)
class Lab:
    url: str
    token: str
    root: Path
    home: Path | None = None
    log: Path | None = None

    def open_url(self, notebook: str) -> str:
        """The notebook alone in a workspace of its own (no tabs of earlier tests)."""
        workspace = Path(notebook).stem
        return (f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}"
                f"?token={self.token}&reset")

    def kernel_state(self, notebook: str) -> str | None:
        """The execution state of the kernel of ``notebook``'s session, if it has one."""
        with urllib.request.urlopen(f"{self.url}/api/sessions?token={self.token}",
                                    timeout=5) as response:
            sessions = json.load(response)
        for session in sessions:
            if session.get("path") == notebook and session.get("kernel"):
                return str(session["kernel"].get("execution_state"))
        return None

    def shut_down_kernels(self) -> None:
        """Stop every kernel (a notebook then reopens with none of its widget models)."""
        with urllib.request.urlopen(f"{self.url}/api/kernels?token={self.token}",
                                    timeout=5) as response:
            kernels = json.load(response)
        for kernel in kernels:
            request = urllib.request.Request(
                f"{self.url}/api/kernels/{kernel['id']}?token={self.token}", method="DELETE")
            urllib.request.urlopen(request, timeout=30).close()

    def wait_for_idle_kernel(self, notebook: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.kernel_state(notebook) != "idle":
            if time.monotonic() > deadline:
                raise TimeoutError(f"no idle kernel for {notebook} after {timeout:g} s")
            time.sleep(0.25)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, token: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({server.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not start in 90 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def chromium() -> str:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def installed_labextension(python: str = sys.executable) -> Path | None:
    """Where ``python``'s environment has our labextension installed, if it has."""
    code = ("import json, jupyter_core.paths as p; "
            "print(json.dumps(p.jupyter_path('labextensions')))")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60,
                             check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for folder in json.loads(out):
        candidate = Path(folder) / LABEXTENSION
        if (candidate / "package.json").is_file():
            return candidate
    return None


def source_labextension() -> Path | None:
    """This source tree's build of the labextension (``jlpm build``), if it was built."""
    built = REPO / "orchestrate_nb" / "labextension"
    return built if (built / "package.json").is_file() else None


def extension_args(base: Path, python: str = sys.executable) -> list[str]:
    """Command-line options that make a Lab of ``python`` load both of our extensions."""
    args: list[str] = []
    if installed_labextension(python) is None:
        built = source_labextension()
        if built is None:
            message = ("the labextension is neither installed nor built: run `jlpm install && "
                       "jlpm build` (or `make install`)")
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        extra = base / "labextensions"
        extra.mkdir(exist_ok=True)
        link = extra / LABEXTENSION
        if not link.exists():
            link.symlink_to(built, target_is_directory=True)
        args.append(f"--LabApp.extra_labextensions_path={extra}")
    if importlib.util.find_spec("orchestrate_nb.server") is not None:
        # Also when installed: naming it twice is harmless, and a tree whose install
        # predates the server extension still gets it.
        args.append("--ServerApp.jpserver_extensions=orchestrate_nb.server=True")
    return args


@contextmanager
def start_lab(base: Path, python: str = sys.executable, extension: str = "auto",
              env: dict[str, str] | None = None) -> Iterator[Lab]:
    """A JupyterLab of ``python`` on 127.0.0.1 with its state under ``base``.

    ``extension``: ``"auto"`` loads ours from the install or this tree's build;
    ``"installed"`` relies on the install alone (the packaging tests); ``"off"`` disables it,
    as a frontend without it would be (the saved graph's HTML/SVG fallback). ``env``, when
    given, is the whole environment (else this process's)."""
    root = base / "root"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    home = base / "orchestrate_home"
    env = {**(os.environ if env is None else env), "JUPYTER_CONFIG_DIR": str(base / "config"),
           "ORCHESTRATE_NB_HOME": str(home),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "IPYTHONDIR": str(base / "ipython")}
    labconfig = base / "config" / "labconfig"
    labconfig.mkdir(parents=True)
    disabled = {"@jupyterlab/apputils-extension:announcements": True}
    if extension == "off":
        disabled[LABEXTENSION] = True
    (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": disabled}))
    log = base / "lab.log"
    command = [python, "-m", "jupyter", "lab", "--no-browser",
               "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--ServerApp.allow_root=True", "--LabApp.extension_manager=readonly",
               f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={base / 'ws'}",
               "--LabApp.news_url=", "--LabApp.check_for_updates_class="
               "jupyterlab.NeverCheckForUpdate"]
    if extension == "auto":
        command += extension_args(base, python)
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, token, server, log)
        yield Lab(url, token, root, home, log)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab with the orchestrate-nb extensions."""
    with start_lab(tmp_path_factory.mktemp("lab")) as started:
        yield started


@pytest.fixture(scope="session")
def plain_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab with our labextension disabled: what a frontend without it shows."""
    with start_lab(tmp_path_factory.mktemp("plain_lab"), extension="off") as started:
        yield started


def _keep_evidence(request: pytest.FixtureRequest, page: Any, console: list[str]) -> None:
    """A failed test leaves a screenshot and the browser console beside the others."""
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}-failure.png"), full_page=True)
    except Exception:  # noqa: BLE001 - the page may be gone; the console log still helps
        pass
    (ARTIFACTS / f"{name}-console.log").write_text("\n".join(console), encoding="utf-8")
    print(f"\nfailure evidence: {ARTIFACTS / name}-failure.png")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


def ours(kind: str, text: str, url: str) -> bool:
    """Whether a console message is a problem our extension caused."""
    if "Federation Runtime" in text:
        return True
    if kind not in ("error", "pageerror"):
        return False
    where = f"{url} {text}"
    return (f"/lab/extensions/{LABEXTENSION}/" in where or "/orchestrate/api/" in where
            or f"{LABEXTENSION}:" in text)


class Console(list[str]):
    """The page's console lines (``type: text @ url``) and the problems that are ours."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def record(self, kind: str, text: str, url: str = "") -> None:
        line = f"{kind}: {text}" + (f" @ {url}" if url else "")
        self.append(line)
        if ours(kind, text, url):
            self.problems.append(line)


def attach_console(page: Any) -> Console:
    console = Console()
    page.on("console", lambda msg: console.record(
        msg.type, msg.text, (msg.location or {}).get("url", "")))
    page.on("pageerror", lambda error: console.record(
        "pageerror", f"{error}\n{getattr(error, 'stack', '') or ''}"))
    return console


@pytest.fixture
def page(chromium: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        console = attach_console(page)
        page.console = console  # tests read it (page.console.problems)
        try:
            yield page
        except BaseException:
            raise
        finally:
            _keep_evidence(request, page, console)
            context.close()
            browser.close()
        if console.problems and not getattr(request.node, "allow_console_problems", False):
            pytest.fail("the browser console has errors from the orchestrate-nb extension:\n"
                        + "\n".join(console.problems[:20]), pytrace=False)


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored); kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
