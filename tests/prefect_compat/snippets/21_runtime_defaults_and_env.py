# Idiom: runtime attributes outside a run, and mocking them with environment variables.
import datetime
import os

from prefect.runtime import deployment, flow_run, task_run

assert flow_run.id is None and flow_run.name is None and flow_run.parameters == {}
assert flow_run.tags == [] and flow_run.run_count == 0
assert isinstance(flow_run.scheduled_start_time, datetime.datetime)
assert task_run.id is None and task_run.name is None and task_run.run_count == 0
assert deployment.id is None and deployment.name is None and deployment.parameters == {}

os.environ["PREFECT__RUNTIME__FLOW_RUN__NAME"] = "mocked-run"
os.environ["PREFECT__RUNTIME__TASK_RUN__RUN_COUNT"] = "3"
assert flow_run.name == "mocked-run"
assert task_run.run_count == 3
print("SNIPPET OK")
