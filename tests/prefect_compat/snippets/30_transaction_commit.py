# Idiom: on_commit hooks run when the transaction commits; cache records only then.
from prefect import flow, task
from prefect.cache_policies import INPUTS
from prefect.transactions import get_transaction, transaction

events = []
calls = []


@task(cache_policy=INPUTS)
def stage(x: int) -> int:
    calls.append(x)
    assert get_transaction() is not None
    return x


@stage.on_commit
def announce(txn):
    events.append("committed")


@flow
def committed(fail: bool) -> None:
    with transaction():
        stage(1)
        events.append("body done")
        if fail:
            raise RuntimeError("abort")


committed(True, return_state=True)
assert events == ["body done"]
committed(False)
assert events == ["body done", "body done", "committed"]
assert calls == [1, 1], "the rolled-back run wrote no cache record"
committed(False)
assert calls == [1, 1], "the committed run did"
print("SNIPPET OK")
