# Idiom: on_completion / on_failure hooks given as lists, on flows and tasks.
from prefect import flow, task

seen = []


def note_success(flow, flow_run, state):
    seen.append(("flow completed", flow.name, state.is_completed()))


def note_failure(task, task_run, state):
    seen.append(("task failed", task_run.name, state.is_failed()))


@task(on_failure=[note_failure], task_run_name="breaks")
def breaks() -> None:
    raise RuntimeError("nope")


@flow(on_completion=[note_success])
def hooked() -> str:
    breaks(return_state=True)
    return "done"


assert hooked() == "done"
assert seen == [("task failed", "breaks", True), ("flow completed", "hooked", True)]
print("SNIPPET OK")
