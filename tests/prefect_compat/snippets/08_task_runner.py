# Idiom: ThreadPoolTaskRunner with max_workers.
import threading

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

threads = set()


@task
def work(i: int) -> int:
    threads.add(threading.get_ident())
    return i


@flow(task_runner=ThreadPoolTaskRunner(max_workers=4))
def parallel() -> int:
    return sum(work.map(range(20)).result())


assert parallel() == 190
print("SNIPPET OK")
