# Idiom: with_options on tasks and flows.
from prefect import flow, task


@task
def step(x: int) -> int:
    return x


@flow
def base(x: int) -> int:
    return step.with_options(name="renamed-step", retries=2)(x)


variant = base.with_options(name="variant", log_prints=True)
assert variant(3) == 3 and variant.name == "variant"
assert step.with_options(tags=["a"]).tags == {"a"}
print("SNIPPET OK")
