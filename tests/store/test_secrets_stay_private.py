"""Passwords stay private: the database URL's password and a secret-looking parameter's
value are nowhere in the home, nor in what the user's process prints."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy.engine import make_url

from orchestrate_nb.store.masking import MASK

URL_PASSWORD = "hunter2xyz"  # the test server trusts every connection: any password works
PARAMETER_VALUE = "hunter2param"

SCRIPT = f"""
    from pydantic import SecretStr
    from orchestrate_nb import flow, get_run_logger, task

    @task(persist_result=True)
    def connect(user: str, db_password: str) -> str:
        get_run_logger().info("connecting as %s", user)
        return user

    @flow
    def etl(user: str, password: str, config: dict, dsn: SecretStr) -> str:
        return connect(user, password) + dsn.get_secret_value()[:0]

    print(etl("ada", "{PARAMETER_VALUE}", {{"api_key": "{PARAMETER_VALUE}", "rows": 3}},
              "{PARAMETER_VALUE}"))
"""


def run_script(url: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True,
                            text=True, timeout=120,
                            env={**os.environ, "ORCHESTRATE_NB_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def with_password(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return url
    return parsed.set(password=URL_PASSWORD).render_as_string(hide_password=False)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql+psycopg://postgres:{URL_PASSWORD}@127.0.0.1:{port}/test"


def files_containing(home: Path, secret: str) -> list[Path]:
    return [path for path in home.rglob("*") if path.is_file()
            and secret.encode() in path.read_bytes()]


def test_no_password_is_in_the_home_or_the_output(database_url, orchestrate_home, query, cli):
    output = run_script(with_password(database_url))
    unreachable = run_script(closed_port_url())

    assert "run store unreachable at postgresql+psycopg://postgres:***@" in unreachable
    for secret in (URL_PASSWORD, PARAMETER_VALUE):
        assert secret not in output + unreachable
        assert files_containing(orchestrate_home, secret) == []
    (run,) = query("SELECT id, parameters FROM flow_runs")
    stored = run["parameters"]  # as the database holds it (PostgreSQL's driver decodes JSON)
    stored = stored if isinstance(stored, dict) else json.loads(stored)
    assert stored == {"user": "ada", "password": MASK, "config": {"api_key": MASK, "rows": 3},
                      "dsn": f"SecretStr('{MASK}')"}
    shown = cli("runs", "show", run["id"])
    assert f'"password": "{MASK}"' in shown.out and PARAMETER_VALUE not in shown.out
