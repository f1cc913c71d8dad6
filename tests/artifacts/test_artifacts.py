"""Artifacts attach to the run that made them (task run, flow run, a ``%%task`` cell) or
stand alone; keys keep their history; ``artifact ls | show`` and ``runs show`` show them."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest

from orchestrate_nb import flow, task
from orchestrate_nb.artifacts import (
    acreate_markdown_artifact,
    create_image_artifact,
    create_link_artifact,
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from orchestrate_nb.errors import ArtifactError
from orchestrate_nb.store.artifacts import artifact_history, list_artifacts
from orchestrate_nb.store.handles import shared_database

sys.path.insert(0, str(Path(__file__).parents[1] / "notebook"))


def test_artifacts_attach_to_the_task_run_or_flow_run_that_made_them(database_url, query):
    @task
    def summarise() -> int:
        create_table_artifact([{"region": "eu", "sales": 3}], key="sales-by-region")
        return 1

    @flow
    def report() -> None:
        summarise()
        create_markdown_artifact("# Done", key="report", description="nightly report")

    report()
    run = query("SELECT id FROM flow_runs")[0]["id"]
    task_run = query("SELECT id FROM task_runs")[0]["id"]
    found = {a.key: a for a in list_artifacts(shared_database(), flow_run_id=run)}
    assert (found["sales-by-region"].task_run_id, found["report"].task_run_id) == (task_run, None)
    assert found["report"].description == "nightly report"
    assert found["sales-by-region"].data == {"columns": ["region", "sales"],
                                             "rows": [["eu", 3]]}


def test_outside_a_run_an_artifact_stands_alone(database_url):
    artifact_id = create_link_artifact("https://example.com/dash", "dashboard")
    [artifact] = list_artifacts(shared_database())
    assert artifact.id == str(artifact_id)
    assert (artifact.flow_run_id, artifact.task_run_id) == (None, None)
    assert artifact.data == {"link": "https://example.com/dash", "link_text": "dashboard"}


def test_a_key_keeps_its_history_newest_first(database_url):
    for version in range(3):
        create_markdown_artifact(f"version {version}", key="daily")
    create_image_artifact("https://example.com/plot.png")
    history = artifact_history(shared_database(), "daily")
    assert [a.data for a in history] == ["version 2", "version 1", "version 0"]
    latest = list_artifacts(shared_database(), latest_only=True)
    assert sorted((a.key or "", a.data if a.key else a.type) for a in latest) == \
        [("", "image"), ("daily", "version 2")]


@pytest.mark.parametrize("table", [
    [{"a": 1, "b": 2.5}, {"a": 3}],
    {"a": [1, 3], "b": [2.5, None]},
    [[1, 2.5], [3]],
])
def test_tables_come_in_every_prefect_shape(table, database_url):
    create_table_artifact(table, key="t")
    data = artifact_history(shared_database(), "t")[0].data
    assert data["rows"] == [[1, 2.5], [3, None]]
    assert len(data["columns"]) == 2


def test_a_dataframe_is_a_table_and_nan_becomes_empty(database_url):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"x": [1, 2], "y": [0.5, math.nan]})
    create_table_artifact(frame, key="frame")
    assert artifact_history(shared_database(), "frame")[0].data == {
        "columns": ["x", "y"], "rows": [[1, 0.5], [2, None]]}


def test_progress_moves_and_bad_input_is_refused_with_nothing_written(database_url, query):
    artifact_id = create_progress_artifact(10, key="load-progress")
    update_progress_artifact(artifact_id, 75.5)
    assert artifact_history(shared_database(), "load-progress")[0].data == 75.5
    rows_before = query("SELECT id FROM artifacts")
    with pytest.raises(ArtifactError, match="0 to 100"):
        create_progress_artifact(120)
    with pytest.raises(ArtifactError, match="invalid artifact key"):
        create_markdown_artifact("x", key="Not A Key")
    with pytest.raises(ArtifactError, match="list of dicts"):
        create_table_artifact("not a table")
    assert query("SELECT id FROM artifacts") == rows_before


def test_async_twins_attach_to_the_run(database_url, query):
    @flow
    async def async_report() -> None:
        await acreate_markdown_artifact("async **report**", key="async-report")

    asyncio.run(async_report())
    run = query("SELECT id FROM flow_runs")[0]["id"]
    assert artifact_history(shared_database(), "async-report")[0].flow_run_id == run


def test_the_cli_lists_and_shows_artifacts_and_runs_show_includes_them(cli, database_url,
                                                                       query):
    @flow
    def report() -> None:
        create_table_artifact({"city": ["Oslo", "Lima"], "n": [1, 2]}, key="cities")
        create_markdown_artifact("first", key="notes")
        create_markdown_artifact("second", key="notes")

    report()
    listed = cli("artifact", "ls")
    assert listed.code == 0 and "cities" in listed.out and "notes" in listed.out
    shown = cli("artifact", "show", "cities")
    assert "Oslo" in shown.out and "Lima" in shown.out
    notes = cli("artifact", "show", "notes")
    assert "second" in notes.out and "History of notes (2 version(s)" in notes.out
    run = query("SELECT id FROM flow_runs")[0]["id"]
    run_page = cli("runs", "show", run)
    assert "Artifacts (3)" in run_page.out and "Oslo" in run_page.out
    missing = cli("artifact", "show", "nothing-here")
    assert missing.code == 1 and missing.err.startswith("Error: no artifact with key")


def test_a_task_cell_creates_an_artifact_attached_to_its_task_run(tmp_path, query,
                                                                    database_url):
    from kernels import run_cells

    outputs = run_cells(["%load_ext orchestrate_nb",
                         "%%task summary\nfrom orchestrate_nb.artifacts import "
                         "create_markdown_artifact\n"
                         "create_markdown_artifact('cell report', key='cell-report')"],
                        tmp_path)
    assert not [o for cell in outputs for o in cell if o.get("output_type") == "error"]
    [artifact] = artifact_history(shared_database(), "cell-report")
    cell_run = query("SELECT id, flow_run_id FROM task_runs WHERE task_name = 'summary'")[0]
    assert (artifact.task_run_id, artifact.flow_run_id) == (cell_run["id"],
                                                            cell_run["flow_run_id"])


def test_the_run_graph_node_and_the_run_logs_name_the_artifact(database_url, cli, query):
    from orchestrate_nb.engine.reporting import ListReporter, subscribe, unsubscribe
    from orchestrate_nb.notebook.graph.model import GraphModel

    @task
    def totals() -> None:
        create_table_artifact([{"a": 1}, {"a": 2}], key="totals-table")

    @flow
    def with_artifact() -> None:
        totals()

    events = ListReporter()
    subscribe(events)
    try:
        with_artifact()
    finally:
        unsubscribe(events)
    model = GraphModel()
    model.apply_all(events.events)
    nodes = model.snapshot(0)["nodes"]
    [node] = [n for n in nodes if n["label"].startswith("totals")]
    assert any("artifact totals-table (table): table, 2 row(s) × 1 column(s)" in line
               for line in node["logs"])
    run_id = query("SELECT id FROM flow_runs")[0]["id"]
    assert "artifact totals-table (table)" in cli("runs", "logs", run_id).out
