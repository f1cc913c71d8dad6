# Idiom: RunInput models for pause_flow_run (defined, pre-filled, validated).
import pydantic
from prefect.input import RunInput


class Approval(RunInput):
    approved: bool
    reason: str = ""


Prefilled = Approval.with_initial_data(reason="looks fine", description="Approve?")
assert Prefilled(approved=True).reason == "looks fine"
assert Approval(approved="yes").approved is True
try:
    Approval(approved=True, aproved=False)
except pydantic.ValidationError:
    pass
else:
    raise AssertionError("an unknown field must be refused")
print("SNIPPET OK")
