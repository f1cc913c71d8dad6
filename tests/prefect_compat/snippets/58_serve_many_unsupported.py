# expect: unsupported serve
# Idiom: serving several deployments at once.
from prefect import flow, serve


@flow
def a() -> None: ...


serve(a.to_deployment(name="a"))
