# expect: unsupported Flow.to_deployment
# Idiom: building a deployment object from a flow.
from prefect import flow


@flow
def nightly() -> None: ...


deployment = nightly.to_deployment(name="nightly", cron="0 2 * * *")
