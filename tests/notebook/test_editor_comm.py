"""Editor contents for %flow (notebook/editor.py): cells the labextension sends over the
``orchestrate_nb.editor`` comm just before a ``%flow`` cell are what ``%flow run`` and
``%flow status`` read, in that cell only and for that notebook only; otherwise the saved file.
The kernel tests drive a real kernel with the same shell messages JupyterLab sends.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

from orchestrate_nb.notebook import editor

SAVED = ["%load_ext orchestrate_nb", '%%task answer\nvalue = 1\nprint("value is", value)']
EDITED = '%%task answer\nvalue = 2\nprint("value is", value)'


def test_parse_keeps_type_source_tags_and_id_only() -> None:
    contents = editor.parse({"path": "a/b.ipynb", "cells": [
        {"cell_type": "code", "source": ["x = 1\n", "y = 2"], "metadata": {"tags": ["t"]},
         "id": "c1", "outputs": [{"big": "image"}]},
        {"cell_type": "markdown", "source": "# hi"}]})
    assert contents is not None and contents.path == "a/b.ipynb"
    assert contents.cells == (
        {"cell_type": "code", "source": "x = 1\ny = 2", "metadata": {"tags": ["t"]}, "id": "c1"},
        {"cell_type": "markdown", "source": "# hi", "metadata": {"tags": []}, "id": None})


@pytest.mark.parametrize("data", [None, [], {"cells": []}, {"path": "a.ipynb"},
                                  {"path": "a.ipynb", "cells": [1]},
                                  {"path": "a.ipynb", "cells": [{"source": "x"}]},
                                  {"path": "a.ipynb", "cells": [{"cell_type": "code",
                                                                 "source": 3}]}])
def test_parse_refuses_anything_else(data: Any) -> None:
    assert editor.parse(data) is None


def test_same_notebook_compares_the_trailing_parts(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "sales.ipynb"
    assert editor.same_notebook(path, "reports/sales.ipynb")
    assert editor.same_notebook(path, "sales.ipynb")
    assert editor.same_notebook(path, "RTC:reports/sales.ipynb")
    assert not editor.same_notebook(path, "other/sales.ipynb")
    assert not editor.same_notebook(path, "reports/sales2.ipynb")
    assert not editor.same_notebook(path, "")


class Kernel:
    def __init__(self, client: Any) -> None:
        self.client = client

    def send_editor(self, path: str, sources: list[str]) -> None:
        cells = [{"cell_type": "code", "source": s, "metadata": {}, "id": f"c{i}"}
                 for i, s in enumerate(sources)]
        message = self.client.session.msg("comm_open", {
            "comm_id": uuid.uuid4().hex, "target_name": editor.COMM_TARGET,
            "data": {"path": path, "cells": cells}})
        self.client.shell_channel.send(message)

    def run(self, code: str) -> str:
        out: list[str] = []

        def keep(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                out.append(content["text"])
            elif message["msg_type"] == "error":
                out.append("\n".join(content["traceback"]))
            elif message["msg_type"] in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", ""))

        self.client.execute_interactive(code, timeout=120, output_hook=keep)
        return "".join(out)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[Kernel]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SAVED])
    nbformat.write(notebook, tmp_path / "sales.ipynb")
    env = {**os.environ, "ORCHESTRATE_NB_HOME": str(tmp_path / "home"),
           "JPY_SESSION_NAME": str(tmp_path / "sales.ipynb"),
           "IPYTHONDIR": str(tmp_path / "ipython")}
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        kernel = Kernel(client)
        kernel.run(SAVED[0])
        yield kernel
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_flow_run_uses_the_editor_contents_sent_before_it(kernel: Kernel) -> None:
    kernel.send_editor("sales.ipynb", [SAVED[0], EDITED, "%flow run"])
    assert "value is 2" in kernel.run("%flow run")
    assert kernel.run("print(value)").strip() == "2"
    # the next %flow cell with nothing sent (no extension) reads the saved file again,
    # which differs from what this kernel ran, and says so
    assert "the saved notebook differs from what this kernel ran (answer)" in kernel.run(
        "%flow run")


def test_flow_status_reads_the_editor_contents(kernel: Kernel) -> None:
    kernel.send_editor("sales.ipynb", [SAVED[0], EDITED, "%%task extra\nz = value + 1"])
    status = kernel.run("%flow status")
    assert "extra" in status and "answer" in status
    assert "extra" not in kernel.run("%flow status")  # the saved notebook has no such cell


def test_contents_of_another_notebook_are_ignored(kernel: Kernel) -> None:
    kernel.send_editor("elsewhere/other.ipynb", [SAVED[0], EDITED])
    assert "value is 1" in kernel.run("%flow run")


def test_contents_sent_before_another_cell_do_not_reach_a_later_flow_cell(
        kernel: Kernel) -> None:
    kernel.send_editor("sales.ipynb", [SAVED[0], EDITED])
    kernel.run("x = 1")
    assert "value is 1" in kernel.run("%flow run")
