# Idiom: strict=True turns a missing limit into an error.
from prefect.concurrency.sync import concurrency

try:
    with concurrency("never-created", strict=True):
        raise AssertionError("should not run")
except AssertionError:
    raise
except Exception as exc:
    assert "never-created" in str(exc), exc
print("SNIPPET OK")
