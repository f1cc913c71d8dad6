# Idiom: hooks added with decorators on the flow and the task objects (Prefect 3).
from prefect import flow, task

seen = []


@task
def fragile(x: int) -> int:
    if x < 0:
        raise ValueError("negative")
    return x


@fragile.on_completion
def task_done(task, task_run, state):
    seen.append(f"task {task.name} completed")


@fragile.on_failure
def task_failed(task, task_run, state):
    seen.append(f"task {task.name} failed")


@flow
def guarded(x: int) -> int:
    return fragile(x)


@guarded.on_completion
def flow_done(flow, flow_run, state):
    seen.append("flow completed")


@guarded.on_failure
def flow_failed(flow, flow_run, state):
    seen.append("flow failed")


@guarded.on_running
def flow_running(flow, flow_run, state):
    seen.append("flow running")


@guarded.on_crashed
def flow_crashed(flow, flow_run, state):
    seen.append("crashed")


@guarded.on_cancellation
def flow_cancelled(flow, flow_run, state):
    seen.append("cancelled")


guarded(1)
guarded(-1, return_state=True)
assert seen == ["flow running", "task fragile completed", "flow completed",
                "flow running", "task fragile failed", "flow failed"], seen
print("SNIPPET OK")
