"""What the orchestrate-nb labextension adds to JupyterLab's start in the browser.

Two JupyterLab servers from this interpreter, identical but for our labextension (loaded
from the install or this tree's build in one, disabled in the other), are loaded in turn in
Debian's chromium, a fresh browser context each time (nothing cached); the figure is the time
from navigation to JupyterLab's ``restored`` promise, median of N loads each, and the
difference. Target (issue 13): the extension adds at most 100 ms.

    python benchmarks/bench_lab_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("orchestrate_ui_conftest",
                                               REPO / "tests" / "ui" / "conftest.py")
assert _spec is not None and _spec.loader is not None
ui = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = ui
_spec.loader.exec_module(ui)

RESTORED = "() => window.jupyterapp.restored.then(() => performance.now())"


def load_ms(browser: object, url: str) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("() => window.jupyterapp !== undefined", timeout=120_000)
        return float(page.evaluate(RESTORED))
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        labs = {}
        for name, extension in (("with", "auto"), ("without", "off")):
            base = Path(tmp) / name
            base.mkdir()
            # expose_app_in_browser: window.jupyterapp, to await its `restored`
            (base / "config").mkdir()
            (base / "config" / "jupyter_server_config.json").write_text(
                '{"LabApp": {"expose_app_in_browser": true}}')
            labs[name] = stack.enter_context(ui.start_lab(base, extension=extension))
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(executable_path=ui.CHROMIUM, args=ui.CHROMIUM_ARGS)
        times: dict[str, list[float]] = {"with": [], "without": []}
        for lab in labs.values():  # warm the servers (first-request costs)
            load_ms(browser, f"{lab.url}/lab?token={lab.token}&reset")
        for _ in range(args.runs):
            for name, lab in labs.items():
                times[name].append(load_ms(browser, f"{lab.url}/lab?token={lab.token}&reset"))
        browser.close()
    with_ms, without_ms = (statistics.median(times[n]) for n in ("with", "without"))
    print(f"JupyterLab start to 'restored', median of {args.runs} cold loads each")
    print(f"  without orchestrate-nb: {without_ms:7.0f} ms   {sorted(round(t) for t in times['without'])}")
    print(f"  with orchestrate-nb:    {with_ms:7.0f} ms   {sorted(round(t) for t in times['with'])}")
    print(f"  added by the extension: {with_ms - without_ms:+7.0f} ms   (target: <= 100 ms)")


if __name__ == "__main__":
    main()
