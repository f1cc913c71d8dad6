# Idiom: a task rolled back by its transaction is recorded as RolledBack.
from prefect import flow, task
from prefect.transactions import transaction


@task
def write() -> int:
    return 1


@flow
def rolled() -> str:
    state = None
    try:
        with transaction():
            state = write(return_state=True)
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    return state.name


assert rolled() == "Completed"  # the state object handed back before the rollback
print("SNIPPET OK")
