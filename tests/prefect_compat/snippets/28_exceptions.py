# Idiom: catching Prefect's exception classes.
from prefect import flow, task
from prefect.exceptions import (
    CancelledRun,
    CrashedRun,
    FailedRun,
    MissingResult,
    PrefectException,
    UnfinishedRun,
)
from prefect.states import Failed, Pending


@task
def reject():
    return Failed(message="quality check failed")


@flow
def checked():
    state = reject(return_state=True)
    try:
        state.result()
    except FailedRun as exc:
        return str(exc)


assert checked() == "quality check failed"
try:
    Pending().result()
except UnfinishedRun:
    pass
assert issubclass(FailedRun, PrefectException) and issubclass(CrashedRun, PrefectException)
assert issubclass(CancelledRun, PrefectException) and issubclass(MissingResult, Exception)
print("SNIPPET OK")
