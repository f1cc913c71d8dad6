"""Test helpers (Prefect's ``prefect.testing.utilities``).

``prefect_test_harness()`` runs the block against a temporary home: a fresh SQLite run
store and result store in a temporary folder, removed afterwards, so tests never touch
``~/.orchestrate_nb`` or a shared database::

    @pytest.fixture(autouse=True, scope="session")
    def orchestrate_test_fixture():
        with prefect_test_harness():
            yield
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrate_nb.settings import DATABASE_URL_ENV, HOME_ENV, RESULTS_KEY_ENV, RESULTS_URL_ENV

__all__ = ["orchestrate_test_harness", "prefect_test_harness"]

_VARIABLES = (HOME_ENV, DATABASE_URL_ENV, RESULTS_URL_ENV, RESULTS_KEY_ENV)


@contextmanager
def prefect_test_harness(server_startup_timeout: int | None = None) -> Iterator[None]:
    """A temporary home for the block (``server_startup_timeout`` is accepted and
    ignored: there is no server to start)."""
    from orchestrate_nb.engine.reporting import flush_and_close_store

    saved = {name: os.environ.get(name) for name in _VARIABLES}
    home = tempfile.mkdtemp(prefix="orchestrate_nb-test-")
    flush_and_close_store()  # the store of the home before is finished with
    for name in _VARIABLES:
        os.environ.pop(name, None)
    os.environ[HOME_ENV] = home
    try:
        yield
    finally:
        flush_and_close_store()
        _restore(saved)
        shutil.rmtree(home, ignore_errors=True)


def _restore(saved: dict[str, Any]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


orchestrate_test_harness = prefect_test_harness
