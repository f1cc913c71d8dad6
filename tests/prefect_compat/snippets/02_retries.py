# Idiom: retries with a delay list and a retry condition.
from prefect import flow, task

attempts = {"flaky": 0, "fatal": 0}


@task(retries=3, retry_delay_seconds=[0, 0.01, 0.01])
def flaky() -> str:
    attempts["flaky"] += 1
    if attempts["flaky"] < 3:
        raise ConnectionError("try again")
    return "ok"


def only_connection_errors(task, task_run, state) -> bool:
    try:
        state.result()
    except ConnectionError:
        return True
    except Exception:
        return False
    return False


@task(retries=5, retry_condition_fn=only_connection_errors)
def fatal() -> None:
    attempts["fatal"] += 1
    raise ValueError("never retried")


@flow
def pipeline():
    first = flaky()
    second = fatal(return_state=True)
    return first, second.is_failed()


assert pipeline() == ("ok", True)
assert attempts == {"flaky": 3, "fatal": 1}
print("SNIPPET OK")
