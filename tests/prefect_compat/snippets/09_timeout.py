# Idiom: timeout_seconds on a task; the flow catches the TimeoutError.
import time

from prefect import flow, task


@task(timeout_seconds=0.2)
def slow() -> None:
    time.sleep(5)


@flow
def guarded() -> str:
    try:
        slow()
    except TimeoutError:
        return "timed out"
    return "finished"


assert guarded() == "timed out"
print("SNIPPET OK")
