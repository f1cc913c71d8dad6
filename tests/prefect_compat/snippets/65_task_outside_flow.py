# Idiom: calling a task outside any flow (Prefect 3 allows it).
from prefect import task
from prefect.runtime import task_run


@task(retries=1)
def standalone(x: int) -> str:
    return f"{task_run.name}:{x}"


assert standalone(3).startswith("standalone")
print("SNIPPET OK")
