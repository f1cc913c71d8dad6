# Idiom: unit-testing a task's function with disable_run_logger.
from prefect import get_run_logger, task
from prefect.logging import disable_run_logger


@task
def add(a: int, b: int) -> int:
    get_run_logger().info("adding %s and %s", a, b)
    return a + b


with disable_run_logger():
    assert add.fn(2, 3) == 5
print("SNIPPET OK")
