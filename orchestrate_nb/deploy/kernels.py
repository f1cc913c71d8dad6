"""Which Jupyter kernel runs a notebook deployment, and where.

A run uses the deployment's ``kernel`` if it names one, else the kernel the notebook's
metadata names (``kernelspec.name``, as Jupyter saves it), else ``python3`` (a notebook
written by nbformat has no kernelspec; papermill would fail with "No language found"). A
kernel that is not installed here is refused when deploying, and a worker refuses to start
without the kernels its pool's notebooks need, both with one line saying which.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrate_nb.errors import DeploymentError

if TYPE_CHECKING:
    from orchestrate_nb.store.database import Database

DEFAULT_KERNEL = "python3"


def notebook_kernel(notebook: str | Path) -> str | None:
    """The kernel name in the notebook's metadata (None without one, or unreadable)."""
    try:
        metadata = json.loads(Path(notebook).read_text(encoding="utf-8")).get("metadata")
        name = (metadata or {}).get("kernelspec", {}).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name.strip() else None


def run_kernel(notebook: str | Path, chosen: str | None) -> str:
    """The kernel a run of ``notebook`` uses: ``chosen``, the notebook's, or python3."""
    return chosen or notebook_kernel(notebook) or DEFAULT_KERNEL


def installed_kernels() -> set[str]:
    from jupyter_client.kernelspec import KernelSpecManager

    return set(KernelSpecManager().find_kernel_specs())


def missing_kernel_message(kernel: str, installed: Iterable[str], what: str) -> str:
    names = ", ".join(sorted(installed)) or "none"
    hint = " (pip install ipykernel)" if kernel == DEFAULT_KERNEL else ""
    return (f"{what} needs the Jupyter kernel {kernel!r}, which is not installed here"
            f"{hint}; installed kernels: {names}")


def check_kernel(kernel: str, what: str) -> None:
    """Refuse a kernel that is not installed, with one line naming ``what`` needs it."""
    installed = installed_kernels()
    if kernel not in installed:
        raise DeploymentError(missing_kernel_message(kernel, installed, what) +
                              " (--kernel NAME runs it in another)")


def working_directory(cwd: str | Path | None) -> str | None:
    """``cwd`` as an absolute path, checked to be a folder (None: the notebook's folder)."""
    if cwd is None:
        return None
    folder = Path(cwd).expanduser().resolve()
    if not folder.is_dir():
        raise DeploymentError(f"working directory not found: {folder}")
    return str(folder)


def kernel_language(kernel: str) -> str | None:
    """The language of an installed kernel (papermill needs it to write the parameters of
    a notebook whose metadata names none)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return str(KernelSpecManager().get_kernel_spec(kernel).language) or None
    except NoSuchKernel:
        return None


def check_pool_kernels(database: Database, pool: str) -> None:
    """Refuse (one line) when a notebook deployment of ``pool`` needs a kernel that is not
    installed here: a worker without it could only fail that deployment's runs."""
    from sqlalchemy import select

    from orchestrate_nb.store.orm import Deployment

    with database.read() as conn:
        rows = conn.execute(select(Deployment.name, Deployment.entrypoint, Deployment.kernel)
                            .where(Deployment.kind == "notebook", Deployment.pool == pool)
                            .order_by(Deployment.name)).all()
    needed = {row.name: run_kernel(row.entrypoint, row.kernel) for row in rows}
    if not needed:
        return
    installed = installed_kernels()
    for name, kernel in needed.items():
        if kernel not in installed:
            raise DeploymentError("the worker cannot start: " + missing_kernel_message(
                kernel, installed, f"deployment {name!r}"))
