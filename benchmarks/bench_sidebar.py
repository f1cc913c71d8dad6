"""How the Orchestrate sidebar's Runs tab behaves with 10,000 runs in the store, in a real
JupyterLab (with the labextension and the server extension) driven by Debian's chromium.

Figures (medians of ``--runs`` repetitions; the baseline is measured in the same run):

- **first paint** — from the click on the Orchestrate icon (fresh page) to the first run
  row on screen.
- **load all** — scrolling to the end until all 10,000 runs are listed (keyset pages of
  200), and the DOM rows the windowed list keeps (a handful, not 10,000).
- **scroll** — frame times (requestAnimationFrame deltas) while the fully loaded list is
  scrolled 400 px a frame for 3 s, beside the same page's idle frames; long tasks (> 50 ms,
  PerformanceObserver) during the scroll.
- **filter** — from typing a search (or choosing a state) to the narrowed list shown
  (includes the 250 ms typing debounce and the request), and long tasks meanwhile.
- **change → row** — from a state change committed to the store by another process to
  that run's row showing the new state in the open sidebar. Target ≤ 1 s.

Usage: ``python benchmarks/bench_sidebar.py [--runs 5] [--total 10000] [--json out.json]``.
Needs the labextension built (``jlpm build``) and ``/usr/bin/chromium``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "ui"), str(REPO / "tests")]

from conftest import CHROMIUM, CHROMIUM_ARGS, start_lab  # noqa: E402
from sidebar_helpers import open_sidebar, seed  # noqa: E402

ACTIVE = 10  # running runs, the newest, whose state changes are timed

SEED = """
import datetime as dt
total = {total}
events = []
for i in range(total - {active}):
    flow = ("ingest-orders", "train-model", "daily-report", "score-batch")[i % 4]
    final = "FAILED" if i % 37 == 0 else "COMPLETED"
    run = runs.flow_run_created(flow, name=f"{{flow}}-{{i:05d}}")
    events += [run, runs.flow_state(run.id, "RUNNING"), runs.flow_state(run.id, final)]
    if len(events) > 6000:
        write(events)
        events = []
for i in range({active}):
    run = runs.flow_run_created("live-etl", name=f"live-etl-{{i:02d}}")
    events += [run, runs.flow_state(run.id, "RUNNING")]
    print(run.id)
write(events)
"""

FINISH = """
import time
from orchestrate_nb.core.events import StateChanged
import datetime as dt
run_id = {run_id!r}
reporter.emit(StateChanged("flow", run_id, run_id, "COMPLETED", "Completed", None,
                           dt.datetime.now(dt.timezone.utc)))
reporter.flush(60)
print(time.time() * 1000)
"""

FRAMES_JS = """
async ({ scroll, seconds }) => {
  const el = document.querySelector('[data-testid="onb-runs-list"]');
  const longTasks = [];
  const observer = new PerformanceObserver(list => {
    for (const entry of list.getEntries()) longTasks.push(entry.duration);
  });
  observer.observe({ type: 'longtask', buffered: false });
  const deltas = [];
  let last = performance.now();
  const end = last + seconds * 1000;
  let direction = 1;
  await new Promise(resolve => {
    const step = now => {
      deltas.push(now - last);
      last = now;
      if (scroll) {
        if (el.scrollTop + el.clientHeight >= el.scrollHeight - 2) direction = -1;
        if (el.scrollTop <= 0) direction = 1;
        el.scrollTop += direction * 400;
      }
      if (now < end) requestAnimationFrame(step); else resolve();
    };
    requestAnimationFrame(step);
  });
  observer.disconnect();
  return { deltas, longTasks, rows: el.querySelectorAll('[data-testid="onb-run-row"]').length };
}
"""

WATCH_JS = """
runId => new Promise(resolve => {
  const find = () => document.querySelector(
    `[data-testid="onb-run-row"][data-run-id="${runId}"]`);
  const check = () => {
    const row = find();
    if (row && row.dataset.stateType === 'COMPLETED') { resolve(Date.now()); return true; }
    return false;
  };
  if (check()) return;
  const observer = new MutationObserver(() => { if (check()) observer.disconnect(); });
  observer.observe(document.body, { subtree: true, childList: true, attributes: true,
                                    attributeFilter: ['data-state-type'] });
})
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def lab_page(browser: Any, lab: Any) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(120_000)
    page.goto(f"{lab.url}/lab/workspaces/bench?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    return page


def first_paint(browser: Any, lab: Any) -> float:
    page = lab_page(browser, lab)
    try:
        page.wait_for_timeout(500)
        start = time.perf_counter()
        sidebar = open_sidebar(page)
        sidebar.locator('[data-testid="onb-run-row"]').first.wait_for()
        return (time.perf_counter() - start) * 1000
    finally:
        page.close()


def load_all(page: Any, total: int) -> tuple[float, int]:
    start = time.perf_counter()
    rows = page.locator('[data-testid="onb-runs-list"]')
    counter = page.locator('[data-testid="onb-runs-count"]')
    while not counter.count():
        rows.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        page.wait_for_timeout(30)
    shown = int(counter.inner_text().split()[0].replace(",", ""))
    assert shown >= total, f"listed {shown} of {total}"
    return (time.perf_counter() - start) * 1000, shown


def filter_latency(page: Any, action: Any, expect: str) -> tuple[float, list[float]]:
    page.evaluate("""() => { window.__lt = []; window.__obs = new PerformanceObserver(
        l => l.getEntries().forEach(e => window.__lt.push(e.duration)));
        window.__obs.observe({ type: 'longtask' }); }""")
    start = time.perf_counter()
    action()
    page.locator('[data-testid="onb-runs-count"], [data-testid="onb-runs-more"]').first.wait_for()
    try:
        page.wait_for_function(expect, timeout=30_000)
    except Exception:
        rows = page.locator('[data-testid="onb-runs"]').inner_text()
        rows += " | search=" + page.locator('[data-testid="onb-runs-search"]').input_value()
        page.screenshot(path="/tmp/h4_bench_fail.png")
        raise RuntimeError(f"the list did not narrow as expected: {rows[:800]}") from None
    elapsed = (time.perf_counter() - start) * 1000
    long_tasks = page.evaluate("() => { window.__obs.disconnect(); return window.__lt; }")
    return elapsed, long_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--total", type=int, default=10_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sidebar-") as base, \
            start_lab(Path(base)) as lab, sync_playwright() as playwright:
        started = time.perf_counter()
        out = seed(lab, SEED.format(total=args.total, active=ACTIVE))
        active_ids = out.split()[-ACTIVE:]
        print(f"seeded {args.total:,} runs in {time.perf_counter() - started:.1f} s")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        paints = [first_paint(browser, lab) for _ in range(args.runs)]
        results["first_paint_ms"] = paints

        page = lab_page(browser, lab)
        sidebar = open_sidebar(page)
        sidebar.locator('[data-testid="onb-run-row"]').first.wait_for()
        results["load_all_ms"], results["listed"] = load_all(page, args.total)
        idle = page.evaluate(FRAMES_JS, {"scroll": False, "seconds": 2})
        scrolled = page.evaluate(FRAMES_JS, {"scroll": True, "seconds": 3})
        results["idle_frames_ms"] = idle["deltas"][1:]
        results["scroll_frames_ms"] = scrolled["deltas"][1:]
        results["scroll_long_tasks_ms"] = scrolled["longTasks"]
        results["dom_rows"] = scrolled["rows"]

        search = sidebar.locator('[data-testid="onb-runs-search"]')
        searches, search_long = [], []
        for index in range(args.runs):
            word = f"train-model-00{index}"
            took, long_tasks = filter_latency(
                page, lambda w=word: search.fill(w),
                """() => [...document.querySelectorAll('[data-testid="onb-run-flow"]')]
                    .every(e => e.textContent === 'train-model')
                    && document.querySelector('[data-testid="onb-runs-count"]') !== null""")
            searches.append(took)
            search_long += long_tasks
            search.fill("")
            page.locator('[data-testid="onb-runs-more"]').wait_for()
        results["search_ms"], results["search_long_tasks_ms"] = searches, search_long

        sidebar.locator('[data-testid="onb-filters-toggle"]').click()
        states, state_long = [], []
        for _ in range(args.runs):
            took, long_tasks = filter_latency(
                page, lambda: sidebar.locator('[data-testid="onb-filter-state"]')
                .select_option("FAILED,CRASHED"),
                """() => { const c = [...document.querySelectorAll('[data-testid="onb-state-chip"]')];
                           return c.length && c.every(e => e.textContent === 'Failed'); }""")
            states.append(took)
            state_long += long_tasks
            sidebar.locator('[data-testid="onb-filter-state"]').select_option("")
            page.locator('[data-testid="onb-runs-more"]').wait_for()
        results["state_filter_ms"], results["state_long_tasks_ms"] = states, state_long

        # change -> row, with every run loaded again (the heaviest list to keep current)
        page.close()
        page = lab_page(browser, lab)
        sidebar = open_sidebar(page)
        sidebar.locator('[data-testid="onb-run-row"]').first.wait_for()
        load_all(page, args.total)
        sidebar.locator('[data-testid="onb-runs-list"]').evaluate("el => { el.scrollTop = 0; }")
        latencies = []
        for run_id in active_ids[: args.runs]:
            page.evaluate(f"() => {{ window.__changed = ({WATCH_JS})({json.dumps(run_id)}); }}")
            page.wait_for_timeout(1200)  # apart from the previous change
            committed = float(seed(lab, FINISH.format(run_id=run_id)).split()[-1])
            shown = page.evaluate("() => window.__changed")
            latencies.append(shown - committed)
        results["change_to_row_ms"] = latencies
        browser.close()

    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    med = statistics.median
    print(f"\nRuns tab with {args.total:,} runs (medians of {args.runs}):")
    print(f"  first paint of the list      {med(r['first_paint_ms']):8.0f} ms")
    print(f"  load all {r['listed']:,} (scrolling)  {r['load_all_ms']:8.0f} ms"
          f"   rows in the DOM: {r['dom_rows']}")
    print(f"  scroll frames: median {med(r['scroll_frames_ms']):5.1f} ms, p95 "
          f"{percentile(r['scroll_frames_ms'], 0.95):5.1f} ms, max "
          f"{max(r['scroll_frames_ms']):5.1f} ms   (idle page: median "
          f"{med(r['idle_frames_ms']):5.1f}, p95 {percentile(r['idle_frames_ms'], 0.95):5.1f})")
    print(f"  long tasks while scrolling   {len(r['scroll_long_tasks_ms'])}"
          f" (longest {max(r['scroll_long_tasks_ms'], default=0):.0f} ms)")
    print(f"  search → narrowed list       {med(r['search_ms']):8.0f} ms"
          f"   (incl. 250 ms debounce; long tasks {len(r['search_long_tasks_ms'])},"
          f" longest {max(r['search_long_tasks_ms'], default=0):.0f} ms)")
    print(f"  state filter → list          {med(r['state_filter_ms']):8.0f} ms"
          f"   (long tasks {len(r['state_long_tasks_ms'])},"
          f" longest {max(r['state_long_tasks_ms'], default=0):.0f} ms)")
    print(f"  store change → row updated   {med(r['change_to_row_ms']):8.0f} ms"
          f"   max {max(r['change_to_row_ms']):.0f} ms   (target ≤ 1000 ms)")


if __name__ == "__main__":
    main()
