# Idiom: on_running hooks on a task, as a list and as a decorator.
from prefect import flow, task

started = []


def announce(task, task_run, state):
    started.append((task.name, state.is_running()))


@task(on_running=[announce])
def step() -> int:
    return 1


@step.on_running
def announce_again(task, task_run, state):
    started.append(("again", task_run.name))


@flow
def run_step() -> int:
    return step()


assert run_step() == 1
assert started == [("step", True), ("again", "step-0")], started
print("SNIPPET OK")
