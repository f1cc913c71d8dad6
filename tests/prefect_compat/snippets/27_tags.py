# Idiom: the tags context manager and task tags.
from prefect import flow, tags, task
from prefect.runtime import task_run


@task(tags=["db"])
def query() -> list[str]:
    return sorted(task_run.tags)


@flow
def tagged() -> list[str]:
    with tags("nightly", "etl"):
        return query()


assert tagged() == ["db", "etl", "nightly"]
print("SNIPPET OK")
