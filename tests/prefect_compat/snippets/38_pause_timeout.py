# Idiom: pause_flow_run with a timeout; nobody resumes it, FlowPauseTimeout is raised.
from prefect import flow, pause_flow_run
from prefect.exceptions import FlowPauseTimeout
from prefect.input import RunInput


class Go(RunInput):
    go: bool


@flow
def waits() -> str:
    try:
        pause_flow_run(wait_for_input=Go, timeout=1, poll_interval=0.2)
    except FlowPauseTimeout:
        return "timed out"
    return "resumed"


assert waits() == "timed out"
print("SNIPPET OK")
