# Idiom: a task_run_name function reading prefect.runtime (Prefect's documented pattern).
from prefect import flow, task
from prefect.runtime import flow_run, task_run


def generate_task_name() -> str:
    parameters = task_run.parameters
    return f"{task_run.task_name}-{parameters['name']}-{flow_run.parameters['limit']}"


@task(task_run_name=generate_task_name)
def greet(name: str) -> str:
    return task_run.name


@flow
def greetings(limit: int = 5) -> str:
    return greet("marvin")


assert greetings() == "greet-marvin-5"
print("SNIPPET OK")
