# Idiom: wait_for orders tasks that pass no data.
from prefect import flow, task

order = []


@task
def create_table() -> None:
    order.append("create")


@task
def insert_rows() -> None:
    order.append("insert")


@flow
def ordered() -> None:
    created = create_table.submit()
    insert_rows.submit(wait_for=[created]).wait()


ordered()
assert order == ["create", "insert"]
print("SNIPPET OK")
