# Idiom: result_storage_key names the stored result and turns persistence on.
from prefect import flow, task

calls = []


@task(result_storage_key="model-{parameters[name]}.pickle")
def train(name: str) -> dict:
    calls.append(name)
    return {"name": name, "weights": [1, 2, 3]}


@flow
def training(name: str) -> dict:
    return train(name)


assert training("a") == {"name": "a", "weights": [1, 2, 3]}
assert training("a")["name"] == "a"
assert calls == ["a"], "the second run reads the stored result"
print("SNIPPET OK")
