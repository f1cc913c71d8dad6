"""Artifacts as rows, and the queries a command or a REST API shows them with.

An artifact with a key is one version of that key: ``list_artifacts()`` gives each key's
latest version (and the unkeyed ones), ``artifact_history(key)`` every version, newest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select, update

from orchestrate_nb.errors import ArtifactError, NotFound
from orchestrate_nb.store.database import Database, store_errors
from orchestrate_nb.store.orm import Artifact

TABLE = cast(Table, Artifact.__table__)


@dataclass(frozen=True)
class ArtifactInfo:
    id: str
    key: str | None
    type: str
    data: Any
    description: str | None
    flow_run_id: str | None
    task_run_id: str | None
    created: dt.datetime
    updated: dt.datetime

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO 8601), for an API response."""
        found = asdict(self)
        found["created"] = self.created.isoformat()
        found["updated"] = self.updated.isoformat()
        return found


def insert_artifact(database: Database, info: ArtifactInfo) -> None:
    with store_errors(database, "write"), database.write() as conn:
        conn.execute(TABLE.insert(), [asdict(info)])


def update_artifact(database: Database, artifact_id: str, data: Any,
                    description: str | None, now: dt.datetime,
                    expected_type: str | None = None) -> None:
    values: dict[str, Any] = {"data": data, "updated": now}
    if description is not None:
        values["description"] = description
    with store_errors(database, "write"), database.write() as conn:
        found = conn.execute(select(Artifact.type).where(Artifact.id == artifact_id)).first()
        if found is None:
            raise NotFound(f"no artifact with id {artifact_id}")
        if expected_type is not None and found.type != expected_type:
            raise ArtifactError(f"artifact {artifact_id} is a {found.type} artifact, "
                                f"not a {expected_type} one")
        conn.execute(update(Artifact).where(Artifact.id == artifact_id).values(values))


def list_artifacts(database: Database, flow_run_id: str | None = None,
                   task_run_id: str | None = None, key: str | None = None,
                   latest_only: bool = False, limit: int | None = 200) -> list[ArtifactInfo]:
    """Artifacts, newest first: of a flow run (its tasks' too), a task run, a key; with
    ``latest_only``, each key's latest version only."""
    query = select(TABLE)
    if flow_run_id is not None:
        query = query.where(Artifact.flow_run_id == flow_run_id)
    if task_run_id is not None:
        query = query.where(Artifact.task_run_id == task_run_id)
    if key is not None:
        query = query.where(Artifact.key == key)
    if latest_only:
        newest = (select(Artifact.key, func.max(Artifact.created).label("created"))
                  .where(Artifact.key.is_not(None)).group_by(Artifact.key).subquery())
        keyed = select(TABLE).join(newest, (Artifact.key == newest.c.key)
                                   & (Artifact.created == newest.c.created))
        unkeyed = select(TABLE).where(Artifact.key.is_(None))
        query = keyed.union_all(unkeyed).subquery().select()  # type: ignore[assignment]
        order = query.selected_columns.created.desc()
    else:
        order = Artifact.created.desc()
    query = query.order_by(order, query.selected_columns.id)
    if limit is not None:
        query = query.limit(limit)
    with store_errors(database), database.read() as conn:
        return [_info(row) for row in conn.execute(query)]


def artifact_history(database: Database, key: str, limit: int | None = 50) -> list[ArtifactInfo]:
    """Every version of ``key``, newest first."""
    return list_artifacts(database, key=key, limit=limit)


def get_artifact(database: Database, key_or_id: str) -> ArtifactInfo:
    """The latest version of a key, or the artifact with that id (or id prefix)."""
    found = artifact_history(database, key_or_id, limit=1)
    if found:
        return found[0]
    with store_errors(database), database.read() as conn:
        rows = list(conn.execute(select(TABLE).where(Artifact.id.startswith(key_or_id,
                                                                             autoescape=True))
                                 .limit(2)))
    if len(rows) == 1:
        return _info(rows[0])
    raise NotFound(f"no artifact with key or id {key_or_id!r} (orchestrate-nb artifact ls "
                   "lists them)")


def count_artifacts_by_task_run(database: Database, flow_run_id: str) -> dict[str, int]:
    with store_errors(database), database.read() as conn:
        return {str(row[0]): int(row[1]) for row in conn.execute(
            select(Artifact.task_run_id, func.count()).where(Artifact.flow_run_id == flow_run_id,
                                                             Artifact.task_run_id.is_not(None))
            .group_by(Artifact.task_run_id))}


def describe(kind: str, data: Any) -> str:
    """One line about an artifact's content (lists, logs, the run graph's node details)."""
    if kind == "progress":
        return f"{float(data):.0f}% done"
    if kind == "link" and isinstance(data, dict):
        text = data.get("link_text")
        return f"{text} <{data.get('link')}>" if text else str(data.get("link"))
    if kind == "image" and isinstance(data, dict):
        return f"image {data.get('image_url')}"
    if kind == "table" and isinstance(data, dict):
        return f"table, {len(data.get('rows', []))} row(s) × {len(data.get('columns', []))} " \
               "column(s)"
    first = next((line.strip() for line in str(data).splitlines() if line.strip()), "")
    return first[:80] + ("…" if len(first) > 80 else "")


def _info(row: Any) -> ArtifactInfo:
    return ArtifactInfo(row.id, row.key, row.type, row.data, row.description, row.flow_run_id,
                        row.task_run_id, row.created, row.updated)
