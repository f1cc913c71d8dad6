# Idiom: typed parameters are validated and coerced; a bad one raises ParameterTypeError.
from prefect import flow
from prefect.exceptions import ParameterTypeError
from pydantic import BaseModel


class Config(BaseModel):
    rows: int
    name: str = "default"


@flow
def configured(config: Config, limit: int = 10) -> tuple[int, str, int]:
    return config.rows, config.name, limit


assert configured({"rows": "5"}, limit="3") == (5, "default", 3)
try:
    configured({"rows": "many"})
except ParameterTypeError as exc:
    assert "rows" in str(exc)
else:
    raise AssertionError("expected ParameterTypeError")
print("SNIPPET OK")
