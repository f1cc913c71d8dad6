# Idiom: a failure hook that reads the state's message (alerting).
from prefect import flow

alerts = []


def alert(flow, flow_run, state):
    alerts.append(f"{flow.name}/{flow_run.name}: {state.message}")


@flow(on_failure=[alert], flow_run_name="nightly-run")
def nightly():
    raise RuntimeError("database unreachable")


state = nightly(return_state=True)
assert state.is_failed()
assert alerts and "database unreachable" in alerts[0] and "nightly-run" in alerts[0]
print("SNIPPET OK")
