# Idiom: the async names exported at the top level exist and are awaitable.
import inspect

from prefect import apause_flow_run, aresume_flow_run

assert inspect.iscoroutinefunction(apause_flow_run)
assert inspect.iscoroutinefunction(aresume_flow_run)
print("SNIPPET OK")
