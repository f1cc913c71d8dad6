# Idiom: submit, wait, as_completed.
from prefect import flow, task
from prefect.futures import as_completed, wait


@task
def square(x: int) -> int:
    return x * x


@flow
def squares() -> list[int]:
    futures = [square.submit(i) for i in range(5)]
    done, not_done = wait(futures)
    assert not not_done and len(done) == 5
    seen = sorted(f.result() for f in as_completed(futures))
    return seen


assert squares() == [0, 1, 4, 9, 16]
print("SNIPPET OK")
