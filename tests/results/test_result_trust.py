"""The result store is not an open door: entries are signed with a secret only this user
reads, a rewritten entry is a miss that runs none of its code, and a results folder others
may write is not used (one warning, tasks run uncached)."""

from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrate_nb import task
from orchestrate_nb.cache_policies import INPUTS
from orchestrate_nb.results.entry import encode_entry
from orchestrate_nb.results.trust import KEY_FILE, Signer

REPO = Path(__file__).resolve().parents[2]


class Payload:
    """A pickle that, when loaded, makes the folder ``marker``: proof that it ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.mkdir, (str(self.marker),))


def counted_square():  # type: ignore[no-untyped-def]
    calls: list[int] = []

    @task(cache_policy=INPUTS)
    def square(x):
        calls.append(x)
        return x * x

    return square, calls


def header_fields(entry: Path) -> tuple[list[bytes], dict[str, object]]:
    line = entry.read_bytes().split(b"\n", 1)[0]
    parts = line.split(b" ", 6)
    return parts, json.loads(parts[6])


def forged_with_another_secret(entry: Path, marker: Path) -> bytes:
    """What another user writes: a well-formed entry for the same key, signed with theirs."""
    _, meta = header_fields(entry)
    chunks = encode_entry(str(meta["key"]), [pickle.dumps(Payload(marker))], "pickle",
                          time.time(), None, str(meta["task"]), Signer(os.urandom(32)))
    return b"".join(bytes(chunk) for chunk in chunks)


def forged_keeping_the_signature(entry: Path, marker: Path) -> bytes:
    """The victim's header (signature included) with the payload and checksum replaced."""
    import xxhash

    parts, _ = header_fields(entry)
    payload = pickle.dumps(Payload(marker))
    parts[2] = xxhash.xxh3_64_hexdigest(payload).encode()
    parts[4], parts[5] = b"pickle", str(len(payload)).encode()
    return b" ".join(parts) + b"\n" + payload


@pytest.mark.parametrize("forge", [forged_with_another_secret, forged_keeping_the_signature],
                         ids=["signed-with-another-secret", "signature-kept"])
def test_a_rewritten_cache_entry_is_a_miss_and_runs_no_code(
        tmp_path, entries, events, results_dir, results_warnings, forge):
    square, calls = counted_square()
    square(3)
    (entry,) = entries(results_dir)
    marker = tmp_path / "the-payload-ran"
    entry.write_bytes(forge(entry, marker))
    state = square(3, return_state=True)
    assert not marker.exists()
    assert (state.name, state.result(), calls) == ("Completed", 9, [3, 3])
    assert len(results_warnings) == 1 and "signature does not match" in results_warnings[0]
    assert square(3, return_state=True).name == "Cached"  # the re-run wrote a good entry


def test_an_entry_copied_from_another_key_is_a_miss(entries, events, results_dir):
    square, calls = counted_square()
    square(3)
    square(4)
    three, four = sorted(entries(results_dir), key=lambda p: header_fields(p)[1]["created"])
    three.write_bytes(four.read_bytes())  # a replayed entry: genuine, but of another key
    assert square(3) == 9
    assert calls == [3, 4, 3]


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722], ids=["world", "group", "wx"])
def test_a_results_folder_others_may_write_gets_one_warning_and_runs_uncached(
        entries, events, results_dir, results_warnings, mode):
    square, calls = counted_square()
    results_dir.mkdir(parents=True)
    results_dir.chmod(mode)
    for _ in range(3):
        assert square(3, return_state=True).name == "Completed"
    assert calls == [3, 3, 3]
    assert entries(results_dir) == []
    assert len(results_warnings) == 1
    assert "can be written by other users" in results_warnings[0]
    assert str(results_dir) in results_warnings[0]


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                    reason="giving a folder to another user needs root")
def test_a_results_folder_of_another_user_is_not_used(entries, events, results_dir,
                                                      results_warnings):
    square, calls = counted_square()
    results_dir.mkdir(parents=True, mode=0o700)
    os.chown(results_dir, 4242, -1)
    square(3)
    square(3)
    assert calls == [3, 3]
    assert len(results_warnings) == 1 and "belongs to another user" in results_warnings[0]


def test_the_results_key_is_made_private_on_first_use(home, events):
    square, _ = counted_square()
    square(3)
    key = home / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64


def test_a_results_key_others_may_read_is_not_used(home, events, results_warnings):
    square, calls = counted_square()
    square(3)
    (home / KEY_FILE).chmod(0o644)
    from orchestrate_nb.results import trust

    trust._signer = None  # (this process had read it while it was private)
    square(3)
    square(3)
    assert calls == [3, 3, 3]
    assert len(results_warnings) == 1 and "can be read by other users" in results_warnings[0]


def test_processes_racing_to_make_the_key_agree_on_one(tmp_path):
    code = ("from orchestrate_nb.results.trust import results_signer; "
            "print(results_signer().sign('key', b'', memoryview(b'')))")  # same secret, same MAC
    env = {**os.environ, "ORCHESTRATE_NB_HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(REPO)}
    env.pop("ORCHESTRATE_NB_RESULTS_KEY", None)
    racers = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                               text=True) for _ in range(6)]
    macs = {racer.communicate(timeout=120)[0].strip() for racer in racers}
    assert all(racer.returncode == 0 for racer in racers)
    assert len(macs) == 1 and len(macs.pop()) == 32
    assert [p.name for p in (tmp_path / "home").iterdir()] == [KEY_FILE]  # no temp left


SHARED = """
from orchestrate_nb import task
from orchestrate_nb.cache_policies import INPUTS

@task(cache_policy=INPUTS)
def double(x):
    print("ran")
    return 2 * x

print(double(21, return_state=True).name)
"""


def test_machines_sharing_a_store_share_hits_when_they_share_the_key(tmp_path, run_python):
    shared = {"ORCHESTRATE_NB_RESULTS_URL": f"file://{tmp_path / 'shared'}"}
    same_key = {**shared, "ORCHESTRATE_NB_RESULTS_KEY": "team secret"}
    assert run_python(SHARED, tmp_path / "a", env=same_key).split() == ["ran", "Completed"]
    assert run_python(SHARED, tmp_path / "b", env=same_key).split() == ["Cached"]
    # a machine with its own key reads nothing the others wrote
    assert run_python(SHARED, tmp_path / "c", env=shared).split() == ["ran", "Completed"]


def test_an_entry_of_the_unsigned_earlier_format_is_a_quiet_miss(entries, events, results_dir,
                                                                 results_warnings):
    square, calls = counted_square()
    square(3)
    (entry,) = entries(results_dir)
    parts, _ = header_fields(entry)
    old = b" ".join([b"ONBR1", *parts[2:]]) + b"\n" + entry.read_bytes().split(b"\n", 1)[1]
    entry.write_bytes(old)
    assert square(3) == 9
    assert calls == [3, 3] and results_warnings == []
