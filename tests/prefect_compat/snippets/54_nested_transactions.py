# Idiom: nested transactions; the outer failure rolls back the inner work too.
from prefect import flow, task
from prefect.transactions import transaction

log = []


@task
def step(name: str) -> str:
    return name


@step.on_rollback
def undo(txn):
    log.append("undo")


@step.on_commit
def keep(txn):
    log.append("commit")


@flow
def nested(fail: bool) -> None:
    with transaction():
        with transaction():
            step("inner")
        step("outer")
        if fail:
            raise ValueError("outer failed")


nested(True, return_state=True)
assert log == ["undo", "undo"], log
log.clear()
nested(False)
assert log == ["commit", "commit"], log
print("SNIPPET OK")
