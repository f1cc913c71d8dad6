# Idiom: a flow returning a task's state or future: its final state follows them.
from prefect import flow, task
from prefect.states import Completed


@task
def ok() -> int:
    return 1


@task
def broken() -> int:
    raise ValueError("bad")


@flow
def returns_state():
    return ok(return_state=True)


@flow
def returns_failed_future():
    return broken.submit()


@flow
def returns_manual_state():
    return Completed(message="nothing to do")


state = returns_state(return_state=True)
assert state.is_completed() and state.result().result() == 1
failed = returns_failed_future(return_state=True)
assert failed.is_failed()
assert returns_manual_state(return_state=True).message == "nothing to do"
print("SNIPPET OK")
