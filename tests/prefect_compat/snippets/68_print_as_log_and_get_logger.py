# Idiom: loggers by name and the logging module's helpers.
import logging

from prefect import flow
from prefect.logging import get_logger, get_run_logger

logger = get_logger("my_project")
assert isinstance(logger, logging.Logger)


@flow
def uses_both() -> bool:
    run_logger = get_run_logger()
    run_logger.info("in the run")
    logger.info("module logger")
    return True


assert uses_both()
print("SNIPPET OK")
