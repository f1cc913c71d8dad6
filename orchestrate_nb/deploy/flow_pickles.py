"""Python flows deployed by value: a ``Flow`` no file entrypoint can name.

A flow defined in a notebook cell, in a script run as ``__main__``, inside a function, or
made by ``with_options`` is pickled with cloudpickle into
``ORCHESTRATE_NB_HOME/deployments/`` (kind ``"pickled"``; the file is the entrypoint), and
loaded by each run's process. A flow that is a top-level attribute of a plain module file
is deployed by its entrypoint (``file.py:fn``) instead, so runs pick up edits of the file.
A script run as ``__main__`` is pickled even though it has a file: importing it again in
each run would re-run its top-level code (often the very ``.serve()`` call).

The file holds a plain-pickle envelope: a format number, the Python version that wrote it
(code pickled by value loads only in the same version), folders to append to ``sys.path``
before loading (the deploying process's working directory and script folder, where
modules the flow imports by name may live), and the cloudpickled flow.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import re
import sys
import tempfile
import threading
from collections import ChainMap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestrate_nb.errors import DeploymentError
from orchestrate_nb.private_files import private_dir
from orchestrate_nb.settings import load_settings

if TYPE_CHECKING:
    from orchestrate_nb.core.flows import Flow

PICKLED = "pickled"
FORMAT = 1
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def file_entrypoint(flow: Flow[Any, Any]) -> str | None:
    """``/abs/file.py:attribute`` when this very flow is a top-level name of a plain module
    file (not a script run as ``__main__``, not a package's module, which a file
    entrypoint cannot import); None when it must be deployed by value."""
    module = sys.modules.get(getattr(flow.fn, "__module__", None) or "")
    file = getattr(module, "__file__", None)
    if module is None or module.__name__ in ("__main__", "__mp_main__") \
            or getattr(module, "__package__", None) or not isinstance(file, str) \
            or not file.endswith(".py") or not Path(file).is_file():
        return None
    name = getattr(flow.fn, "__name__", "")
    if getattr(module, name, None) is not flow:
        name = next((key for key, value in vars(module).items() if value is flow), "")
    return f"{Path(file).resolve()}:{name}" if name else None


def pickle_path(name: str) -> Path:
    """Where the deployment ``name``'s flow is pickled (a hash keeps odd names apart)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:80]
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return load_settings().home / "deployments" / f"{safe}-{digest}.pkl"


@functools.lru_cache(maxsize=1)
def _pickler() -> Any:
    """cloudpickle's pickler, except that a lock pickles as a new, unlocked one: a flow's
    task runner holds a lock (it is never started itself: each run gets a duplicate)."""
    import cloudpickle

    locks = {type(threading.Lock()): _new_lock, type(threading.RLock()): _new_rlock}
    return type("FlowPickler", (cloudpickle.Pickler,),
                {"dispatch_table": ChainMap(locks, cloudpickle.Pickler.dispatch_table)})


def _new_lock(_: Any) -> tuple[Any, tuple[()]]:
    return threading.Lock, ()


def _new_rlock(_: Any) -> tuple[Any, tuple[()]]:
    return threading.RLock, ()


def dump_flow(flow: Flow[Any, Any]) -> bytes:
    """The envelope's bytes; a DeploymentError (one line) when the flow can't be pickled."""
    buffer = io.BytesIO()
    try:
        _pickler()(buffer, protocol=pickle.DEFAULT_PROTOCOL).dump(flow)
    except Exception as exc:
        raise DeploymentError(
            f"flow {flow.name!r} cannot be deployed by value: {_one_line(exc)} (a value it "
            "uses cannot be pickled: create it inside the flow, or define the flow in a .py "
            "file)") from None
    return pickle.dumps({"format": FORMAT, "python": PYTHON, "paths": _import_folders(),
                         "flow": buffer.getvalue()})


def _import_folders() -> list[str]:
    folders = [os.getcwd()]
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(script, str):
        folders.append(str(Path(script).resolve().parent))
    return list(dict.fromkeys(folders))


@contextmanager
def staged_pickle(flow: Flow[Any, Any], name: str) -> Iterator[Path]:
    """Pickle ``flow`` for the deployment ``name``: the file is written aside and put in
    place (atomically) only when the ``with`` block succeeds; yields its final path."""
    data = dump_flow(flow)
    target = pickle_path(name)
    private_dir(target.parent)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        yield target
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_pickled_flow(path: str | Path) -> Flow[Any, Any]:
    """The flow pickled at ``path``; a one-line DeploymentError naming the file when it is
    missing, corrupt, from another Python, or needs a module that cannot be imported."""
    from orchestrate_nb.core.flows import Flow

    path = Path(path)
    envelope = _read_envelope(path)
    for folder in envelope["paths"]:
        if folder not in sys.path:
            sys.path.append(folder)
    try:
        flow = pickle.loads(envelope["flow"])
    except Exception as exc:
        raise DeploymentError(f"cannot load the deployed flow {path}: {_one_line(exc)}") \
            from None
    if not isinstance(flow, Flow):
        raise DeploymentError(f"{path} holds a {type(flow).__name__}, not a flow")
    return flow


def _read_envelope(path: Path) -> dict[str, Any]:
    try:
        envelope = pickle.loads(path.read_bytes())
    except FileNotFoundError:
        raise DeploymentError(f"the deployed flow's file is missing: {path} (deploy the "
                              "flow again)") from None
    except OSError as exc:
        raise DeploymentError(f"cannot read the deployed flow's file {path}: "
                              f"{_one_line(exc)}") from None
    except Exception as exc:
        raise DeploymentError(f"the deployed flow's file is corrupt: {path} "
                              f"({_one_line(exc)}; deploy the flow again)") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT \
            or not isinstance(envelope.get("flow"), bytes) \
            or not isinstance(envelope.get("paths"), list):
        raise DeploymentError(f"the deployed flow's file is corrupt: {path} (not written by "
                              "this version of orchestrate_nb; deploy the flow again)")
    if envelope.get("python") != PYTHON:
        raise DeploymentError(f"{path} was pickled by Python {envelope.get('python')}; this "
                              f"is Python {PYTHON}: deploy the flow again from Python {PYTHON}")
    return envelope


def remove_pickle(name: str) -> None:
    pickle_path(name).unlink(missing_ok=True)


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())
