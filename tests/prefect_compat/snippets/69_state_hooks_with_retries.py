# Idiom: a flow with retries; on_failure runs once, after the last attempt.
from prefect import flow
from prefect.runtime import flow_run

failures = []
attempts = []


def notify(flow, flow_run, state):
    failures.append(state.message)


@flow(retries=2, retry_delay_seconds=0, on_failure=[notify])
def unstable() -> str:
    attempts.append(flow_run.run_count)
    if flow_run.run_count < 3:
        raise RuntimeError("not yet")
    return "finally"


assert unstable() == "finally"
assert attempts == [1, 2, 3] and failures == []
print("SNIPPET OK")
