# Idiom: prefect.runtime.task_run (run_count grows with retries).
from prefect import flow, task
from prefect.runtime import task_run

counts = []


@task(retries=2, tags=["io"])
def fetch(url: str) -> str:
    counts.append(task_run.run_count)
    if task_run.run_count < 2:
        raise OSError("flaky")
    assert task_run.parameters == {"url": url}
    assert "io" in task_run.tags
    return f"{task_run.task_name}:{task_run.name}"


@flow
def crawl() -> str:
    return fetch("https://example.org")


assert crawl() == "fetch:fetch-0"
assert counts == [1, 2]
print("SNIPPET OK")
