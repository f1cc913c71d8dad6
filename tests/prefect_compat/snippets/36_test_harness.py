# Idiom: prefect_test_harness gives a test session a temporary home.
import os

from prefect import flow
from prefect.testing.utilities import prefect_test_harness


@flow
def tested(x: int) -> int:
    return x + 1


before = dict(os.environ)
with prefect_test_harness():
    assert tested(1) == 2
with prefect_test_harness(server_startup_timeout=30):
    assert tested(2) == 3
assert dict(os.environ) == before
print("SNIPPET OK")
