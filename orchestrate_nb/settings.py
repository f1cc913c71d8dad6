"""Settings: the only place environment variables are read (SPEC §7)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "ORCHESTRATE_NB_HOME"
DATABASE_URL_ENV = "ORCHESTRATE_NB_DATABASE_URL"
RESULTS_URL_ENV = "ORCHESTRATE_NB_RESULTS_URL"
RESULTS_KEY_ENV = "ORCHESTRATE_NB_RESULTS_KEY"  # the secret cache entries are signed with
STORE_ENABLED_ENV = "ORCHESTRATE_NB_STORE"  # "0" disables the run store (tests of the engine only)
LOGGING_LEVEL_ENV = "ORCHESTRATE_NB_LOGGING_LEVEL"
FLOW_RUN_ID_ENV = "ORCHESTRATE_NB_FLOW_RUN_ID"  # set by a worker: the run a kernel adopts
WIDGET_ENV = "ORCHESTRATE_NB_WIDGET"  # "0": no run-graph widget (%flow shows a static SVG)
# "1": every cached task (cells too) computes and stores instead of reading the cache (like
# Prefect's PREFECT_TASKS_REFRESH_CACHE); a worker sets it for runs of `cache="refresh"`
TASKS_REFRESH_CACHE_ENV = "ORCHESTRATE_NB_TASKS_REFRESH_CACHE"
FLUSH_WAIT_ENV = "ORCHESTRATE_NB_FLUSH_WAIT"  # seconds a returning flow waits on a stalled store
DEFAULT_FLUSH_WAIT = 5.0
# "process" (the default with two CPUs or more): the run store is written by a writer process
# beside the flow's; "thread": by a thread of the flow's own process (less memory, slower
# flows of many tasks)
STORE_WRITER_ENV = "ORCHESTRATE_NB_STORE_WRITER"
STORE_WRITERS = ("process", "thread")
_URL_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    results_url: str
    store_enabled: bool
    logging_level: str
    widget_enabled: bool = True
    results_key: str | None = None  # None: ORCHESTRATE_NB_HOME/results.key
    flush_wait: float = DEFAULT_FLUSH_WAIT
    store_writer: str = "process"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def masked_database_url(self) -> str:
        return mask_url(self.database_url)


def load_settings() -> Settings:
    """Read the environment now (never cached: tests and workers change it)."""
    home = Path(os.environ.get(HOME_ENV) or Path.home() / ".orchestrate_nb").expanduser()
    database_url = os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{home / 'orchestrate_nb.db'}"
    results_url = os.environ.get(RESULTS_URL_ENV) or str(home / "results")
    store_enabled = os.environ.get(STORE_ENABLED_ENV, "1").strip().lower() not in ("0", "false", "no")
    level = os.environ.get(LOGGING_LEVEL_ENV, "INFO").upper()
    widget = os.environ.get(WIDGET_ENV, "1").strip().lower() not in ("0", "false", "no")
    return Settings(home, database_url, results_url, store_enabled, level, widget,
                    os.environ.get(RESULTS_KEY_ENV) or None, _flush_wait(), _store_writer())


def _flush_wait() -> float:
    try:
        return max(0.0, float(os.environ.get(FLUSH_WAIT_ENV) or DEFAULT_FLUSH_WAIT))
    except ValueError:  # a typo must not stop flows: the default is the safe choice
        return DEFAULT_FLUSH_WAIT


def _store_writer() -> str:
    # One CPU: a writer process would only take turns with the flow on it.
    default = "process" if (os.cpu_count() or 1) > 1 else "thread"
    value = (os.environ.get(STORE_WRITER_ENV) or default).strip().lower()
    return value if value in STORE_WRITERS else default  # a typo must not stop flows


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***``: the only form of a URL we print or log."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def adopted_flow_run_id() -> str | None:
    """The flow run a worker started this process for (its kernel records cells under it)."""
    return os.environ.get(FLOW_RUN_ID_ENV) or None


def refresh_every_cache() -> bool:
    """Whether cached tasks must compute afresh (``ORCHESTRATE_NB_TASKS_REFRESH_CACHE``)."""
    return os.environ.get(TASKS_REFRESH_CACHE_ENV, "").strip().lower() in ("1", "true", "yes")


# -- secrets and alerts -------------------------------------------------------------------
SECRET_KEY_ENV = "ORCHESTRATE_NB_SECRET_KEY"  # a Fernet key: blocks' secret fields
SECRET_KEY_FILE_ENV = "ORCHESTRATE_NB_SECRET_KEY_FILE"  # else this file (made on first use)
BASE_URL_ENV = "ORCHESTRATE_NB_BASE_URL"  # JupyterLab's URL: alerts link to a run's page


def secret_key_from_env() -> str | None:
    """The secret key given in the environment (workers on several machines share it)."""
    return os.environ.get(SECRET_KEY_ENV) or None


def secret_key_file() -> Path:
    """Where the secret key lives when the environment gives none: outside the home that
    holds the database (a copy of the database alone reveals no secret)."""
    explicit = os.environ.get(SECRET_KEY_FILE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config).expanduser() / "orchestrate-nb" / "secret.key"


def base_url() -> str | None:
    """JupyterLab's base URL (e.g. ``http://127.0.0.1:8888/lab``), for links in alerts."""
    url = os.environ.get(BASE_URL_ENV, "").strip().rstrip("/")
    return url or None


def runtime_override(module: str, attribute: str) -> str | None:
    """An environment variable that sets an ``orchestrate_nb.runtime`` attribute (tests):
    ``ORCHESTRATE_NB__RUNTIME__FLOW_RUN__ID``, or Prefect's ``PREFECT__RUNTIME__...``."""
    suffix = f"__RUNTIME__{module.upper()}__{attribute.upper()}"
    value = os.environ.get(f"ORCHESTRATE_NB{suffix}")
    return value if value is not None else os.environ.get(f"PREFECT{suffix}")
