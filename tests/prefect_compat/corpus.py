"""The Prefect-compatibility corpus: Prefect 3 scripts (``snippets/``), each run in a
fresh process with only its imports changed (``prefect`` → ``orchestrate_nb``).

A snippet passes when it exits 0 having printed ``SNIPPET OK`` (its own asserts check what
a Prefect user would see). A snippet whose first lines say ``# expect: unsupported NAME``
uses a feature orchestrate_nb refuses: it passes when it fails with one line naming NAME
(no traceback from inside the package). ``python -m tests.prefect_compat.corpus`` prints
the pass rate.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SNIPPETS = Path(__file__).parent / "snippets"
ROOT = Path(__file__).resolve().parents[2]
_FROM = re.compile(r"^(\s*)from prefect((?:\.\w+)*) import (.*)$")
_IMPORT = re.compile(r"^(\s*)import prefect((?:\.\w+)*)\s*$")
_EXPECT = re.compile(r"^# expect: unsupported (\S+)", re.MULTILINE)


def swap_imports(source: str) -> str:
    """The one change a Prefect user makes: the package's name in import lines."""
    lines = []
    for line in source.splitlines():
        found = _FROM.match(line)
        if found:
            indent, module, names = found.groups()
            lines.append(f"{indent}from orchestrate_nb{module} import {names}")
            continue
        found = _IMPORT.match(line)
        if found:
            indent, module = found.groups()
            lines.append(f"{indent}import orchestrate_nb{module}; import orchestrate_nb as prefect")
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Outcome:
    name: str
    passed: bool
    detail: str


def snippet_paths() -> list[Path]:
    return sorted(SNIPPETS.glob("*.py"))


def run_snippet(path: Path, timeout: float = 120) -> Outcome:
    source = path.read_text()
    expected = _EXPECT.search(source)
    with tempfile.TemporaryDirectory(prefix="prefect-compat-") as home:
        script = Path(home) / path.name
        script.write_text(swap_imports(source))
        env = {**os.environ, "ORCHESTRATE_NB_HOME": home, "ORCHESTRATE_NB_WIDGET": "0",
               "PYTHONPATH": os.pathsep.join(
                   [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        for name in ("ORCHESTRATE_NB_DATABASE_URL", "ORCHESTRATE_NB_RESULTS_URL",
                     "ORCHESTRATE_NB_RESULTS_KEY"):
            env.pop(name, None)
        done = subprocess.run([sys.executable, str(script)], cwd=home, env=env,
                              capture_output=True, text=True, timeout=timeout)
    if expected is None:
        passed = done.returncode == 0 and "SNIPPET OK" in done.stdout
        return Outcome(path.name, passed, (done.stdout + done.stderr)[-3000:])
    return _refused(path.name, expected.group(1), done)


def _refused(name: str, feature: str, done: subprocess.CompletedProcess[str]) -> Outcome:
    """An unsupported feature: a non-zero exit whose last line is UnsupportedFeature's
    one-line message naming it, raised from the snippet's own line (not from deep inside)."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    frames = [line for line in lines if line.lstrip().startswith("File ")]
    from_inside = [f for f in frames if "orchestrate_nb" in f and "/compat" not in f]
    passed = (done.returncode != 0 and last.startswith("orchestrate_nb.errors.UnsupportedFeature")
              and feature in last and len(from_inside) <= 1)
    return Outcome(name, passed, done.stderr[-3000:])


def main() -> int:
    outcomes = [run_snippet(path) for path in snippet_paths()]
    for outcome in outcomes:
        print(f"{'pass' if outcome.passed else 'FAIL'}  {outcome.name}")
    passed = sum(o.passed for o in outcomes)
    print(f"{passed}/{len(outcomes)} snippets pass ({100 * passed / len(outcomes):.0f}%)")
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
