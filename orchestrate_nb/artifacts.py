"""Artifacts: results a run wants a person to see (Prefect's ``prefect.artifacts``).

Each ``create_*`` function returns the artifact's id (a UUID) and attaches the artifact to
the task run or flow run it is called in (a ``%%task`` cell is a task run), or stands alone
outside any run. A ``key`` (lowercase letters, numbers, dashes) keeps a history: each call
with the same key adds a version, shown newest first. They are written to the run store at
once (one small transaction), and shown by ``orchestrate-nb runs show`` and ``artifact
ls | show KEY``. Each function has an ``a…`` async twin. Secret values loaded in this
process are masked in what is stored.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import re
import uuid
from typing import Any
from uuid import UUID

from orchestrate_nb.errors import ArtifactError

UTC = dt.timezone.utc
KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TABLE_ROWS = 100_000

__all__ = ["acreate_image_artifact", "acreate_link_artifact", "acreate_markdown_artifact",
           "acreate_progress_artifact", "acreate_table_artifact", "aupdate_progress_artifact",
           "create_image_artifact", "create_link_artifact", "create_markdown_artifact",
           "create_progress_artifact", "create_table_artifact", "update_progress_artifact"]


def create_markdown_artifact(markdown: str, key: str | None = None,
                             description: str | None = None) -> UUID:
    """A markdown report (rendered where it is shown)."""
    if not isinstance(markdown, str):
        raise ArtifactError("create_markdown_artifact takes the markdown as a string")
    return _create("markdown", _masked(markdown), key, description)


def create_table_artifact(table: Any, key: str | None = None,
                          description: str | None = None) -> UUID:
    """A table: a list of dicts, a dict of lists, a list of lists, or a pandas DataFrame."""
    return _create("table", _table(table), key, description)


def create_link_artifact(link: str, link_text: str | None = None, key: str | None = None,
                         description: str | None = None) -> UUID:
    """A link (to a dashboard, a file, a report)."""
    if not isinstance(link, str) or not link.strip():
        raise ArtifactError("create_link_artifact needs the link as a non-empty string")
    return _create("link", {"link": _masked(link), "link_text": link_text}, key, description)


def create_image_artifact(image_url: str, key: str | None = None,
                          description: str | None = None) -> UUID:
    """An image, by its URL."""
    if not isinstance(image_url, str) or not image_url.strip():
        raise ArtifactError("create_image_artifact needs the image's URL as a string")
    return _create("image", {"image_url": _masked(image_url)}, key, description)


def create_progress_artifact(progress: float, key: str | None = None,
                             description: str | None = None) -> UUID:
    """A progress bar (0 to 100), moved with ``update_progress_artifact``."""
    return _create("progress", _progress(progress), key, description)


def update_progress_artifact(artifact_id: UUID | str, progress: float,
                             description: str | None = None) -> UUID:
    """Move a progress artifact to ``progress`` (0 to 100)."""
    from orchestrate_nb.store.artifacts import update_artifact
    from orchestrate_nb.store.handles import shared_database

    update_artifact(shared_database(), str(artifact_id), _progress(progress), description,
                    dt.datetime.now(UTC), expected_type="progress")
    return UUID(str(artifact_id))


async def acreate_markdown_artifact(markdown: str, key: str | None = None,
                                    description: str | None = None) -> UUID:
    return await asyncio.to_thread(create_markdown_artifact, markdown, key,
                                   description)


async def acreate_table_artifact(table: Any, key: str | None = None,
                                 description: str | None = None) -> UUID:
    return await asyncio.to_thread(create_table_artifact, table, key, description)


async def acreate_link_artifact(link: str, link_text: str | None = None, key: str | None = None,
                                description: str | None = None) -> UUID:
    return await asyncio.to_thread(create_link_artifact, link, link_text, key,
                                   description)


async def acreate_image_artifact(image_url: str, key: str | None = None,
                                 description: str | None = None) -> UUID:
    return await asyncio.to_thread(create_image_artifact, image_url, key,
                                   description)


async def acreate_progress_artifact(progress: float, key: str | None = None,
                                    description: str | None = None) -> UUID:
    return await asyncio.to_thread(create_progress_artifact, progress, key,
                                   description)


async def aupdate_progress_artifact(artifact_id: UUID | str, progress: float,
                                    description: str | None = None) -> UUID:
    return await asyncio.to_thread(update_progress_artifact, artifact_id, progress, description)


# -- the one writer (asyncio.to_thread carries the run context to the twins' thread) ---------------------------------------------------------------------
def _create(kind: str, data: Any, key: str | None, description: str | None) -> UUID:
    from orchestrate_nb.store.artifacts import ArtifactInfo, insert_artifact
    from orchestrate_nb.store.handles import shared_database

    if key is not None and (not isinstance(key, str) or not KEY.match(key)):
        raise ArtifactError(f"invalid artifact key {key!r}: use lowercase letters, numbers "
                            "and dashes (e.g. 'sales-summary')")
    if description is not None and not isinstance(description, str):
        raise ArtifactError("an artifact's description must be a string")
    flow_run_id, task_run_id = _current_run()
    now = dt.datetime.now(UTC)
    artifact_id = uuid.uuid4()
    insert_artifact(shared_database(), ArtifactInfo(
        str(artifact_id), key, kind, data, None if description is None else
        _masked(description), flow_run_id, task_run_id, now, now))
    if flow_run_id is not None or task_run_id is not None:
        _announce(flow_run_id, task_run_id, key or str(artifact_id)[:8], kind, data, now)
    return artifact_id


def _announce(flow_run_id: str | None, task_run_id: str | None, title: str, kind: str,
              data: Any, now: dt.datetime) -> None:
    """A line in the run's logs (and so in the run graph's node details), not printed."""
    import logging

    from orchestrate_nb.core.events import LogEmitted
    from orchestrate_nb.engine.reporting import get_reporter
    from orchestrate_nb.store.artifacts import describe

    get_reporter().emit(LogEmitted(flow_run_id, task_run_id, logging.INFO,
                                   "orchestrate_nb.artifacts",
                                   f"artifact {title} ({kind}): {describe(kind, data)}", now))


def _current_run() -> tuple[str | None, str | None]:
    from orchestrate_nb.engine.context import flow_run_ctx, task_run_ctx

    task = task_run_ctx.get()
    if task is not None:
        return task.task_run.flow_run_id, task.task_run.id
    flow = flow_run_ctx.get()
    if flow is not None:
        return flow.flow_run.id, None
    return None, None


def _masked(text: str) -> str:
    from orchestrate_nb.blocks.masking import mask_secrets

    return mask_secrets(text)


def _progress(progress: Any) -> float:
    try:
        value = float(progress)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 <= value <= 100:
        raise ArtifactError(f"progress must be a number from 0 to 100, not {progress!r}")
    return value


def _table(table: Any) -> dict[str, Any]:
    """``{"columns": [...], "rows": [[...], ...]}`` from any of the accepted shapes."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # a pandas DataFrame
        columns = [str(c) for c in table.columns]
        rows = [list(r) for r in table.itertuples(index=False, name=None)]
    elif isinstance(table, dict) and all(isinstance(v, list | tuple) for v in table.values()):
        columns = [str(c) for c in table]
        lengths = {len(v) for v in table.values()}
        if len(lengths) > 1:
            raise ArtifactError("a table given as a dict of lists needs lists of one length")
        rows = [list(r) for r in zip(*table.values(), strict=True)]
    elif isinstance(table, list | tuple) and all(isinstance(r, dict) for r in table):
        columns = list(dict.fromkeys(str(k) for r in table for k in r))
        rows = [[r.get(c, r.get(_original_key(r, c))) for c in columns] for r in table]
    elif isinstance(table, list | tuple) and all(isinstance(r, list | tuple) for r in table):
        width = max((len(r) for r in table), default=0)
        columns = [str(i) for i in range(width)]
        rows = [list(r) + [None] * (width - len(r)) for r in table]
    else:
        raise ArtifactError("create_table_artifact takes a list of dicts, a dict of lists, "
                            f"a list of lists or a pandas DataFrame, not {type(table).__name__}")
    if len(rows) > MAX_TABLE_ROWS:
        raise ArtifactError(f"a table artifact holds at most {MAX_TABLE_ROWS:,} rows "
                            f"(this one has {len(rows):,}): summarise it first")
    return {"columns": columns, "rows": [[_cell(v) for v in row] for row in rows]}


def _original_key(row: dict[Any, Any], column: str) -> Any:
    return next((k for k in row if str(k) == column), column)


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return _masked(value) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _cell(item())
        except (TypeError, ValueError):
            pass
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return _masked(str(value))
