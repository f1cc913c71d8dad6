# Idiom: validate_parameters=False passes values through as given.
from prefect import flow


@flow(validate_parameters=False)
def raw(n: int):
    return n


assert raw("7") == "7"
print("SNIPPET OK")
