"""The run graph's model: events in; nodes, edges, groups, states, timings, retries, cache
hits, stale marks and last log lines out (no Jupyter, no browser)."""

from __future__ import annotations

from typing import Any

import pytest
from graph_events import Events, at

from orchestrate_nb.notebook.graph.fallback import graph_svg, graph_text
from orchestrate_nb.notebook.graph.layout import layered_layout
from orchestrate_nb.notebook.graph.model import GraphModel

NOW = at(100).timestamp()


def snapshot(events: Events, **options: Any) -> dict[str, Any]:
    model = GraphModel(**options)
    model.apply_all(events.events)
    return model.snapshot(NOW)


def by_label(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["label"]: node for node in graph["nodes"]}


@pytest.fixture
def pipeline() -> Events:
    """extract -> clean -> (validate fails, enrich) ; enrich -> publish."""
    ev = Events("etl")
    ev.flow_state("RUNNING", "Running", 0)
    ids = {name: ev.task(name, name=f"{name}-0")
           for name in ("extract", "clean", "validate", "enrich", "publish")}
    ev.edge(ids["extract"], ids["clean"], "rows")
    ev.edge(ids["clean"], ids["validate"], "rows")
    ev.edge(ids["clean"], ids["enrich"], "rows")
    ev.edge(ids["enrich"], ids["publish"], "rows")
    ev.edge(ids["enrich"], ids["publish"], "extra")
    ev.ran(ids["extract"], 0.0, 1.5)
    ev.ran(ids["clean"], 1.5, 2.0)
    ev.ran(ids["validate"], 2.0, 2.25, "FAILED", "Failed")
    ev.ran(ids["enrich"], 2.0, 3.0)
    ev.state(ids["publish"], "RUNNING", "Running", 3.0)
    return ev


def test_tasks_become_nodes_and_dependencies_edges_laid_out_left_to_right(
        pipeline: Events) -> None:
    graph = snapshot(pipeline)
    nodes = by_label(graph)
    assert list(nodes) == ["extract-0", "clean-0", "validate-0", "enrich-0", "publish-0"]
    ids = {label: node["id"] for label, node in nodes.items()}
    assert [e[2] for e in graph["edges"]] == ["rows", "rows", "rows", "rows, extra"]
    layers = {label: node["layer"] for label, node in nodes.items()}
    assert layers == {"extract-0": 0, "clean-0": 1, "validate-0": 2, "enrich-0": 2,
                      "publish-0": 3}
    expected = layered_layout(list(ids.values()), [(u, d) for u, d, _ in graph["edges"]])
    assert all((n["layer"], n["row"]) == (expected[n["id"]].layer, expected[n["id"]].row)
               for n in graph["nodes"])


def test_nodes_carry_states_and_durations_and_running_ones_are_timed_until_now(
        pipeline: Events) -> None:
    nodes = by_label(snapshot(pipeline))
    assert {label: n["state"] for label, n in nodes.items()} == {
        "extract-0": "completed", "clean-0": "completed", "validate-0": "failed",
        "enrich-0": "completed", "publish-0": "running"}
    assert nodes["extract-0"]["duration"] == 1.5
    assert nodes["validate-0"]["duration"] == 0.25
    assert nodes["publish-0"]["running"] is True
    assert nodes["publish-0"]["duration"] == pytest.approx(97.0)


def test_the_flow_header_carries_name_state_and_duration(pipeline: Events) -> None:
    pipeline.flow_state("FAILED", "Failed", 4.0, message="1/5 task runs failed")
    flow = snapshot(pipeline)["flow"]
    assert (flow["flow_name"], flow["name"], flow["state"]) == ("etl", "brave-otter", "failed")
    assert flow["duration"] == 4.0
    assert flow["message"] == "1/5 task runs failed"


def test_retries_are_counted_and_the_retrying_state_shown() -> None:
    ev = Events()
    run = ev.task("flaky")
    ev.state(run, "RUNNING", "Running", 0)
    ev.state(run, "SCHEDULED", "AwaitingRetry", 1, message="Retry 1/2")
    assert by_label(snapshot(ev))[f"flaky-{run}"]["state"] == "retrying"
    ev.state(run, "RUNNING", "Retrying", 2)
    ev.state(run, "SCHEDULED", "AwaitingRetry", 3)
    ev.state(run, "RUNNING", "Retrying", 4)
    ev.state(run, "COMPLETED", "Completed", 5)
    node = by_label(snapshot(ev))[f"flaky-{run}"]
    assert (node["state"], node["retries"], node["duration"]) == ("completed", 2, 5.0)


def test_cache_hits_are_marked_cached() -> None:
    ev = Events()
    run = ev.task("load")
    ev.state(run, "COMPLETED", "Cached", 0.1, cache_key="abc")
    node = by_label(snapshot(ev))[f"load-{run}"]
    assert (node["state"], node["cached"]) == ("cached", 1)


def test_a_run_that_never_ran_because_upstream_failed_shows_not_run() -> None:
    ev = Events()
    run = ev.task("after")
    ev.state(run, "FAILED", "NotReady", 1, message="Upstream task run 'x' did not complete")
    node = by_label(snapshot(ev))[f"after-{run}"]
    assert node["state"] == "not run"
    assert "did not complete" in node["message"]


def test_stale_marks_come_from_outside_the_run(pipeline: Events) -> None:
    model = GraphModel()
    model.apply_all(pipeline.events)
    assert model.mark_stale("enrich-0", "stale: rows changed")
    assert not model.mark_stale("no such node")
    nodes = by_label(model.snapshot(NOW))
    assert nodes["enrich-0"]["stale"] == "stale: rows changed"
    assert nodes["clean-0"]["stale"] is None


def test_each_node_keeps_its_last_log_lines(pipeline: Events) -> None:
    run = next(e.id for e in pipeline.events if getattr(e, "name", "") == "validate-0")
    for i in range(8):
        pipeline.log(run, f"line {i}", t=2.1)
    pipeline.log(None, "flow-level line")
    graph = snapshot(pipeline, log_lines=3)
    logs = by_label(graph)["validate-0"]["logs"]
    assert [line.split(" ", 2)[2] for line in logs] == ["line 5", "line 6", "line 7"]
    assert logs[0].split(" ")[1] == "INFO"
    assert graph["flow"]["logs"][-1].endswith("flow-level line")


def test_a_long_log_message_keeps_its_head_and_its_last_line() -> None:
    ev = Events()
    run = ev.task("t")
    ev.log(run, "Task run failed\n" + "frame\n" * 200 + "ValueError: the real reason")
    line = by_label(snapshot(ev))[f"t-{run}"]["logs"][0]
    assert len(line) < 450
    assert "Task run failed" in line and line.endswith("ValueError: the real reason")


def test_ten_thousand_mapped_runs_are_one_node_with_counts_by_state() -> None:
    ev = Events()
    up = ev.task("load", name="load-0")
    ev.ran(up, 0, 1)
    runs = [ev.task("score", map_index=i) for i in range(10_000)]
    for i, run in enumerate(runs):
        ev.edge(up, run, "rows")
        if i < 9_000:
            ev.ran(run, 1, 2)
        elif i < 9_010:
            ev.ran(run, 1, 2, "FAILED", "Failed")
        elif i < 9_500:
            ev.state(run, "RUNNING", "Running", 1.5)
    graph = snapshot(ev)
    nodes = by_label(graph)
    assert list(nodes) == ["load-0", "score (mapped)"]
    group = nodes["score (mapped)"]
    assert group["kind"] == "group" and group["runs"] == 10_000
    assert group["counts"] == {"completed": 9_000, "failed": 10, "running": 490,
                               "pending": 500}
    assert group["state"] == "running"
    assert graph["edges"] == [[nodes["load-0"]["id"], group["id"], "rows"]]
    assert graph["task_runs"] == 10_001


def test_a_group_ends_in_its_worst_state() -> None:
    ev = Events()
    runs = [ev.task("score", map_index=i) for i in range(3)]
    ev.ran(runs[0], 0, 1)
    ev.ran(runs[1], 0, 1, "COMPLETED", "Cached")
    assert by_label(snapshot(ev))["score (mapped)"]["state"] == "running"
    ev.ran(runs[2], 0, 2, "FAILED", "Failed")
    node = by_label(snapshot(ev))["score (mapped)"]
    assert (node["state"], node["cached"], node["duration"]) == ("failed", 1, 2.0)


def test_many_direct_calls_of_one_task_fold_into_one_node_keeping_their_edges() -> None:
    ev = Events()
    first = ev.task("load", name="load-0")
    calls = [ev.task("step", name=f"step-{i}") for i in range(5)]
    for run in calls:
        ev.edge(first, run, "x")
        ev.ran(run, 0, 1)
    graph = snapshot(ev, group_threshold=5)
    assert list(by_label(graph)) == ["load-0", *(f"step-{i}" for i in range(5))]
    sixth = ev.task("step", name="step-5")
    ev.edge(first, sixth, "x")
    graph = snapshot(ev, group_threshold=5)
    nodes = by_label(graph)
    assert list(nodes) == ["load-0", "step (calls)"]
    assert nodes["step (calls)"]["runs"] == 6
    assert nodes["step (calls)"]["counts"] == {"completed": 5, "pending": 1}
    assert graph["edges"] == [[nodes["load-0"]["id"], nodes["step (calls)"]["id"], "x"]]


def test_a_subflow_is_one_node_counting_the_task_runs_inside_it() -> None:
    ev = Events("parent")
    sub = ev.subflow("child")
    ev.flow_state("RUNNING", "Running", 0, run_id=sub)
    inner = [ev.task("inner", flow_run_id=sub) for _ in range(3)]
    for run in inner:
        ev.ran(run, 0, 1)
    ev.log(None, "ignored: the root's own line")
    node = by_label(snapshot(ev))["child"]
    assert (node["kind"], node["state"], node["runs"]) == ("flow", "running", 3)
    ev.flow_state("COMPLETED", "Completed", 2, run_id=sub)
    assert by_label(snapshot(ev))["child"]["state"] == "completed"


def test_events_of_other_flow_runs_are_ignored(pipeline: Events) -> None:
    other = Events("other")
    other.ran(other.task("elsewhere"), 0, 1)
    model = GraphModel(pipeline.flow_run_id)
    model.apply_all([*pipeline.events, *other.events])
    assert "elsewhere" not in " ".join(model.nodes[n].label for n in model.nodes)
    assert model.task_runs == 5


def test_the_static_svg_and_text_show_the_same_nodes_and_states(pipeline: Events) -> None:
    pipeline.flow_state("FAILED", "Failed", 4.0)
    graph = snapshot(pipeline)
    svg = graph_svg(graph)
    assert svg.startswith("<svg") and svg.count("<rect") >= 10
    assert "validate-0" in svg and "#cf222e" in svg  # the failed colour
    text = graph_text(graph)
    assert text.splitlines()[0] == "etl · brave-otter: failed · 4.0 s · 5 task runs"
    assert "validate-0  ✗ failed (250 ms)" in text


def test_planned_task_cells_show_their_states_until_a_run_of_them_starts() -> None:
    ev = Events("notebook")
    model = GraphModel(ev.flow_run_id)
    model.plan("load", "cached", "0.2 s")
    model.plan("clean", "stale", "stale: df changed", stale="df changed")
    model.plan("report", "never run")
    model.plan_edge("load", "clean", "df")
    model.plan_edge("clean", "report", "tidy")
    before = by_label(model.snapshot(NOW))
    assert {label: n["state"] for label, n in before.items()} == {
        "load": "cached", "clean": "stale", "report": "never run"}
    assert before["clean"]["stale"] == "df changed"
    assert [n["layer"] for n in before.values()] == [0, 1, 2]
    run = ev.task("clean", name="clean-0")
    ev.ran(run, 0, 1)
    model.apply_all(ev.events)
    after = by_label(model.snapshot(NOW))
    assert after["clean"]["state"] == "completed" and after["clean"]["stale"] is None
    assert after["clean"]["duration"] == 1.0 and "detail" not in after["clean"]
    assert after["load"]["state"] == "cached" and after["load"]["detail"] == "0.2 s"
    assert len(after) == 3


def test_a_chain_of_thousands_of_distinct_tasks_is_laid_out_without_recursion() -> None:
    ev = Events()
    runs = [ev.task(f"step{i}", name=f"step{i}-0") for i in range(3_000)]
    for up, down in zip(runs, runs[1:]):
        ev.edge(up, down, "x")
    graph = snapshot(ev)
    assert [n["layer"] for n in graph["nodes"]] == list(range(3_000))
