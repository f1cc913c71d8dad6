# Idiom: return_state=True and the state predicates.
from prefect import flow, task
from prefect.states import Completed, Failed


@task
def divide(a: int, b: int) -> float:
    return a / b


@task
def judged(ok: bool):
    return Completed(message="fine") if ok else Failed(message="rejected")


@flow
def checks():
    bad = divide(1, 0, return_state=True)
    good = divide(4, 2, return_state=True)
    assert bad.is_failed() and isinstance(bad.result(raise_on_failure=False), ZeroDivisionError)
    assert good.is_completed() and good.result() == 2
    assert judged(False, return_state=True).is_failed()
    return judged(True, return_state=True).message


assert checks() == "fine"
print("SNIPPET OK")
