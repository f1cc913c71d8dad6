# Idiom: a transaction; a failure rolls back the completed task through its hook.
import os
import tempfile

from prefect import flow, task
from prefect.transactions import transaction

folder = tempfile.mkdtemp()


@task
def write_file(name: str, contents: str) -> str:
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(contents)
    return path


@write_file.on_rollback
def delete_file(txn):
    os.unlink(txn.get("path"))


@task
def quality_check(path: str) -> None:
    with open(path) as f:
        if "bad" in f.read():
            raise ValueError("bad data")


@flow
def pipeline(contents: str) -> None:
    with transaction() as txn:
        path = write_file("out.txt", contents)
        txn.set("path", path)
        quality_check(path)


pipeline(contents="bad", return_state=True)
assert not os.path.exists(os.path.join(folder, "out.txt"))
pipeline(contents="good")
assert os.path.exists(os.path.join(folder, "out.txt"))
print("SNIPPET OK")
