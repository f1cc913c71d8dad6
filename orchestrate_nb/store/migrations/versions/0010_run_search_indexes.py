"""Indexes for the runs list's text search and tag filter (issue 13's 50 ms target).

- ``flow_run_tags``: one row per (flow run, tag), kept in step with ``flow_runs.tags`` by
  triggers in the database (the store's writer is unchanged), so a tag filter is an index
  lookup whose selectivity the planner knows.
- Run names indexed for substring search: on PostgreSQL a ``pg_trgm`` GIN index (when
  ``CREATE EXTENSION pg_trgm`` is allowed; without it the search scans as before), on SQLite
  an FTS5 table with the trigram tokenizer over ``flow_runs.name`` (external content, kept
  by triggers).

Existing rows are backfilled with one statement each.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 00:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    """CREATE TRIGGER flow_run_tags_ai AFTER INSERT ON flow_runs
       WHEN new.tags IS NOT NULL AND json_type(new.tags) = 'array' BEGIN
         INSERT OR IGNORE INTO flow_run_tags (flow_run_id, tag)
         SELECT new.id, value FROM json_each(new.tags) WHERE type = 'text';
       END""",
    """CREATE TRIGGER flow_run_tags_au AFTER UPDATE OF tags ON flow_runs BEGIN
         DELETE FROM flow_run_tags WHERE flow_run_id = old.id;
         INSERT OR IGNORE INTO flow_run_tags (flow_run_id, tag)
         SELECT new.id, value FROM json_each(coalesce(new.tags, '[]'))
         WHERE type = 'text' AND json_type(new.tags) = 'array';
       END""",
    """CREATE TRIGGER flow_run_tags_ad AFTER DELETE ON flow_runs BEGIN
         DELETE FROM flow_run_tags WHERE flow_run_id = old.id;
       END""",
    """CREATE TRIGGER flow_run_names_ai AFTER INSERT ON flow_runs BEGIN
         INSERT INTO flow_run_names (rowid, name) VALUES (new.rowid, new.name);
       END""",
    """CREATE TRIGGER flow_run_names_au AFTER UPDATE OF name ON flow_runs BEGIN
         INSERT INTO flow_run_names (flow_run_names, rowid, name)
         VALUES ('delete', old.rowid, old.name);
         INSERT INTO flow_run_names (rowid, name) VALUES (new.rowid, new.name);
       END""",
    """CREATE TRIGGER flow_run_names_ad AFTER DELETE ON flow_runs BEGIN
         INSERT INTO flow_run_names (flow_run_names, rowid, name)
         VALUES ('delete', old.rowid, old.name);
       END""",
)

POSTGRES_TAGS = (
    """CREATE FUNCTION flow_run_tags_sync() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP <> 'INSERT' THEN
           DELETE FROM flow_run_tags WHERE flow_run_id = OLD.id;
         END IF;
         IF TG_OP <> 'DELETE' AND NEW.tags IS NOT NULL
            AND json_typeof(NEW.tags) = 'array' THEN
           INSERT INTO flow_run_tags (flow_run_id, tag)
           SELECT DISTINCT NEW.id, t FROM json_array_elements_text(NEW.tags) AS t
           WHERE t IS NOT NULL
           ON CONFLICT DO NOTHING;
         END IF;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER flow_run_tags_ai AFTER INSERT ON flow_runs FOR EACH ROW
       WHEN (NEW.tags IS NOT NULL) EXECUTE FUNCTION flow_run_tags_sync()""",
    """CREATE TRIGGER flow_run_tags_au AFTER UPDATE OF tags ON flow_runs FOR EACH ROW
       EXECUTE FUNCTION flow_run_tags_sync()""",
    """CREATE TRIGGER flow_run_tags_ad AFTER DELETE ON flow_runs FOR EACH ROW
       EXECUTE FUNCTION flow_run_tags_sync()""",
)


def upgrade() -> None:
    op.create_table(
        "flow_run_tags",
        sa.Column("flow_run_id", sa.String(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("flow_run_id", "tag", name=op.f("pk_flow_run_tags")),
    )
    op.create_index(op.f("ix_flow_run_tags_tag"), "flow_run_tags", ["tag"])
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("""INSERT OR IGNORE INTO flow_run_tags (flow_run_id, tag)
                      SELECT flow_runs.id, t.value FROM flow_runs, json_each(flow_runs.tags) AS t
                      WHERE flow_runs.tags IS NOT NULL AND json_type(flow_runs.tags) = 'array'
                        AND t.type = 'text'""")
        for statement in SQLITE_TRIGGERS[:3]:
            op.execute(statement)
        if _create_fts(bind):
            op.execute("INSERT INTO flow_run_names (flow_run_names) VALUES ('rebuild')")
            for statement in SQLITE_TRIGGERS[3:]:
                op.execute(statement)
        return
    op.execute("""INSERT INTO flow_run_tags (flow_run_id, tag)
                  SELECT DISTINCT r.id, t FROM flow_runs AS r,
                         json_array_elements_text(r.tags) AS t
                  WHERE r.tags IS NOT NULL AND json_typeof(r.tags) = 'array'
                    AND t IS NOT NULL""")
    for statement in POSTGRES_TAGS:
        op.execute(statement)
    trgm_schema = _trgm_schema(bind)
    if trgm_schema is not None:
        # The operator class is named with the extension's schema: the store's own schema
        # (search_path) need not be the one the extension was created in.
        # fastupdate off: a GIN pending list (bulk-written runs) is scanned by every search
        opclass = bind.dialect.identifier_preparer.quote_schema(trgm_schema) + ".gin_trgm_ops"
        op.execute("CREATE INDEX ix_flow_runs_name_trgm ON flow_runs "
                   f"USING gin (name {opclass}) WITH (fastupdate = off)")
    op.execute("ANALYZE flow_run_tags")


def _create_fts(bind: sa.Connection) -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (3.34 and later, usually)."""
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("""CREATE VIRTUAL TABLE flow_run_names USING fts5(
                                  name, content='flow_runs', content_rowid='rowid',
                                  tokenize='trigram')"""))
    except DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _trgm_schema(bind: sa.Connection) -> str | None:
    """The schema pg_trgm lives in: where it already is, else created in ``public`` (so it
    outlives any one store's schema), else in the current one; None if it cannot be created
    here (a savepoint keeps a refusal from spoiling the migration's transaction)."""
    for statement in ("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public",
                      "CREATE EXTENSION IF NOT EXISTS pg_trgm"):
        schema = bind.execute(sa.text(
            "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")).scalar()
        if schema is not None:
            return str(schema)
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text(statement))
        except DBAPIError:
            savepoint.rollback()
            continue
        savepoint.commit()
    schema = bind.execute(sa.text(
        "SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n "
        "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")).scalar()
    return None if schema is None else str(schema)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("flow_run_names_ad", "flow_run_names_au", "flow_run_names_ai",
                     "flow_run_tags_ad", "flow_run_tags_au", "flow_run_tags_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS flow_run_names")
    else:
        for name in ("flow_run_tags_ad", "flow_run_tags_au", "flow_run_tags_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON flow_runs")
        op.execute("DROP FUNCTION IF EXISTS flow_run_tags_sync()")
        op.execute("DROP INDEX IF EXISTS ix_flow_runs_name_trgm")
    op.drop_index(op.f("ix_flow_run_tags_tag"), table_name="flow_run_tags")
    op.drop_table("flow_run_tags")
