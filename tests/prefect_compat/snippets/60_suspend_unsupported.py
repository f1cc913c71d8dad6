# expect: unsupported suspend_flow_run
# Idiom: suspending a flow run (its process exits until resumed).
from prefect import flow, suspend_flow_run


@flow
def suspended() -> None:
    suspend_flow_run(timeout=60)


suspended()
