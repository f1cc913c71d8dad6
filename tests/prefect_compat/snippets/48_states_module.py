# Idiom: state classes and types from prefect.states and prefect.client.
from prefect import State, flow, task
from prefect.states import Cancelled, Completed, Crashed, Failed, Pending, Running, StateType


@task
def report(ok: bool) -> State:
    return Completed(message="all good") if ok else Failed(message="not good")


@flow
def reporting() -> list[str]:
    states = [report(True, return_state=True), report(False, return_state=True)]
    return [s.type.value for s in states]


assert reporting() == ["COMPLETED", "FAILED"]  # a failure looked at does not fail the flow
assert Completed().type == StateType.COMPLETED and Crashed().is_crashed()
assert Cancelled().is_cancelled() and Pending().is_pending() and Running().is_running()
print("SNIPPET OK")
