# Idiom: branch on prefect.runtime.deployment (None when run locally).
from prefect import flow
from prefect.runtime import deployment


@flow
def where_am_i() -> str:
    if deployment.id is None:
        return "local"
    return deployment.name


assert where_am_i() == "local"
print("SNIPPET OK")
