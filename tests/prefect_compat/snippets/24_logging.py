# Idiom: get_run_logger in flows and tasks; get_logger elsewhere.
from prefect import flow, get_run_logger, task
from prefect.logging import get_logger


@task
def work() -> int:
    logger = get_run_logger()
    logger.info("working")
    logger.warning("careful")
    return 1


@flow
def logged() -> int:
    get_run_logger().info("starting")
    return work()


assert logged() == 1
get_logger("my.module").info("outside runs")
print("SNIPPET OK")
