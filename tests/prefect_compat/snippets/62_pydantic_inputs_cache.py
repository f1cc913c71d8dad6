# Idiom: INPUTS caching with a pydantic model argument (hashed by its JSON when needed).
import threading

from prefect import flow, task
from prefect.cache_policies import INPUTS
from pydantic import BaseModel, PrivateAttr

calls = []


class Query(BaseModel):
    table: str
    limit: int = 10
    _lock: object = PrivateAttr(default_factory=threading.Lock)


@task(cache_policy=INPUTS)
def run_query(query: Query) -> int:
    calls.append(query.table)
    return query.limit


@flow
def querying() -> list[int]:
    return [run_query(Query(table="a")), run_query(Query(table="a")),
            run_query(Query(table="b"))]


assert querying() == [10, 10, 10]
assert calls == ["a", "b"], calls
print("SNIPPET OK")
