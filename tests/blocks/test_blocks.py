"""Blocks are saved and loaded by name; secret fields are encrypted with a key that is not
in the database, masked in logs once loaded, and a wrong or missing key is one clear line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap

import pytest
from pydantic import SecretStr

from orchestrate_nb.blocks import JSON, Block, Secret, SlackWebhook, String
from orchestrate_nb.errors import BlockError, BlockNotFound, SecretKeyError

VALUE = "pa55-word-7f3c9a"


class WarehouseCredentials(Block):
    """A user's own block, as in Prefect."""

    account: str
    password: SecretStr
    port: int = 5432


def test_a_secret_round_trips_and_its_value_is_not_in_the_database(database_url, query,
                                                                     orchestrate_home):
    assert Secret(value=VALUE).save("db-password") == "secret/db-password"
    assert Secret.load("db-password").get() == VALUE
    rows = query("SELECT * FROM blocks")
    assert VALUE not in repr(rows)
    assert "value" in str(rows[0]["secret_fields"]) and rows[0]["encrypted"]
    if database_url.startswith("sqlite"):
        for path in orchestrate_home.glob("orchestrate_nb.db*"):
            assert VALUE.encode() not in path.read_bytes()


def test_the_key_file_is_private_outside_the_home_and_made_once(private_secret_key,
                                                                  orchestrate_home):
    Secret(value=VALUE).save("k")
    assert stat.S_IMODE(private_secret_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(private_secret_key.parent.stat().st_mode) == 0o700
    assert orchestrate_home not in private_secret_key.parents
    key = private_secret_key.read_bytes()
    Secret(value="other-value").save("k2")
    assert private_secret_key.read_bytes() == key


def test_processes_creating_the_key_at_once_end_with_one_key(private_secret_key, tmp_path):
    code = textwrap.dedent("""
        from orchestrate_nb.blocks.crypto import fernet
        import sys
        f = fernet()
        sys.stdout.write(f.encrypt(b"hello").decode())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              env=os.environ.copy()) for _ in range(4)]
    tokens = [p.communicate(timeout=60)[0].decode() for p in procs]
    from orchestrate_nb.blocks.crypto import decrypt

    assert [decrypt(t, "test") for t in tokens] == [b"hello"] * 4
    assert [p.name for p in private_secret_key.parent.iterdir()] == ["secret.key"]


def test_the_environment_key_is_used_and_no_file_is_made(monkeypatch, private_secret_key):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("ORCHESTRATE_NB_SECRET_KEY", Fernet.generate_key().decode())
    Secret(value=VALUE).save("from-env")
    assert Secret.load("from-env").get() == VALUE
    assert not private_secret_key.exists()


def test_a_wrong_key_is_one_clear_line(monkeypatch, database_url):
    from cryptography.fernet import Fernet

    Secret(value=VALUE).save("db-password")
    monkeypatch.setenv("ORCHESTRATE_NB_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(SecretKeyError) as caught:
        Secret.load("db-password")
    message = str(caught.value)
    assert "\n" not in message and "another secret key" in message and VALUE not in message


def test_a_missing_key_file_is_one_clear_line(private_secret_key):
    Secret(value=VALUE).save("db-password")
    private_secret_key.unlink()
    with pytest.raises(SecretKeyError, match="no secret key"):
        Secret.load("db-password")
    assert not private_secret_key.exists()  # reading never makes a new key


def test_a_malformed_key_is_refused_in_one_line_and_nothing_is_written(monkeypatch, cli,
                                                                        query, database_url):
    monkeypatch.setenv("ORCHESTRATE_NB_SECRET_KEY", "not-a-key")
    monkeypatch.setattr("sys.stdin", _Stdin(VALUE))
    result = cli("secret", "set", "db-password")
    assert result.code == 1
    assert result.err.count("\n") == 1 and "not a valid key" in result.err
    assert query("SELECT name FROM blocks") == []


def test_a_loaded_secret_is_masked_in_run_logs(database_url, cli, query):
    from orchestrate_nb import flow, get_run_logger

    Secret(value=VALUE).save("api-token")

    @flow
    def uses_secret() -> None:
        token = Secret.load("api-token").get()
        get_run_logger().info("connecting with %s", token)

    uses_secret()
    messages = [row["message"] for row in query("SELECT message FROM logs")]
    assert any("connecting with **********" in m for m in messages)
    assert not any(VALUE in m for m in messages)
    run_id = query("SELECT id FROM flow_runs")[0]["id"]
    assert VALUE not in cli("runs", "logs", run_id).out
    assert VALUE not in cli("runs", "show", run_id).out


def test_user_blocks_keep_secret_fields_encrypted(database_url, query):
    WarehouseCredentials(account="acme", password=SecretStr(VALUE)).save("warehouse")
    loaded = WarehouseCredentials.load("warehouse")
    assert (loaded.account, loaded.port) == ("acme", 5432)
    assert loaded.password.get_secret_value() == VALUE
    assert VALUE not in repr(loaded)
    row = query("SELECT data FROM blocks")[0]
    assert "password" not in str(row["data"]) and "acme" in str(row["data"])
    assert Block.load("warehouse-credentials/warehouse").account == "acme"


def test_plain_blocks_json_and_string(database_url):
    JSON(value={"regions": ["eu", "us"]}).save("settings")
    String(value="hello").save("greeting")
    assert JSON.load("settings").value == {"regions": ["eu", "us"]}
    assert String.load("greeting").value == "hello"


def test_a_taken_name_needs_overwrite_and_stays_as_it_was(database_url):
    Secret(value=VALUE).save("db-password")
    with pytest.raises(BlockError, match="exists already"):
        Secret(value="changed").save("db-password")
    assert Secret.load("db-password").get() == VALUE
    Secret(value="changed").save("db-password", overwrite=True)
    assert Secret.load("db-password").get() == "changed"


def test_bad_names_and_unknown_blocks_are_one_line(database_url, query):
    with pytest.raises(BlockError, match="invalid block name"):
        Secret(value=VALUE).save("Not OK")
    with pytest.raises(BlockNotFound, match="no block named 'missing'"):
        Secret.load("missing")
    assert query("SELECT name FROM blocks") == []


def test_the_cli_sets_secrets_from_stdin_and_never_shows_them(cli, monkeypatch, query,
                                                             database_url):
    monkeypatch.setattr("sys.stdin", _Stdin(VALUE + "\n"))
    assert cli("secret", "set", "db-password").code == 0
    assert Secret.load("db-password").get() == VALUE
    outputs = [cli("secret", "ls"), cli("block", "ls"), cli("block", "show", "db-password")]
    assert all(r.code == 0 and VALUE not in r.out for r in outputs)
    assert "**********" in outputs[2].out
    monkeypatch.setattr("sys.stdin", _Stdin("other\n"))
    taken = cli("secret", "set", "db-password")
    assert taken.code == 1 and "exists already" in taken.err
    assert cli("secret", "rm", "db-password").code == 0
    assert query("SELECT name FROM blocks") == []


def test_block_ls_show_and_rm(cli, database_url):
    SlackWebhook(url="http://127.0.0.1:9/hook-secret-part").save("team")
    listed = cli("block", "ls")
    assert "team" in listed.out and "slack-webhook" in listed.out
    shown = cli("block", "show", "team")
    assert "hook-secret-part" not in shown.out and "url: **********" in shown.out
    missing = cli("block", "show", "nobody")
    assert missing.code == 1 and missing.err.startswith("Error: no block named 'nobody'")
    assert cli("block", "rm", "slack-webhook/team").code == 0
    assert "No blocks" in cli("block", "ls").out


def test_an_apprise_block_without_apprise_says_so_in_one_line(tmp_path):
    code = textwrap.dedent("""
        import sys
        sys.modules["apprise"] = None  # not installed
        from orchestrate_nb.blocks import AppriseNotificationBlock
        try:
            AppriseNotificationBlock(url="json://127.0.0.1:9/x")
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=os.environ.copy()).stdout
    assert out.strip() == ("NotificationError AppriseNotificationBlock needs Apprise: "
                           "pip install 'orchestrate-nb[apprise]'")


class _Stdin:
    def __init__(self, text: str) -> None:
        self.text = text

    def isatty(self) -> bool:
        return False

    def read(self) -> str:
        return self.text


