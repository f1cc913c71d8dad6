# Idiom: get_run_context and the context classes.
from prefect import flow, task
from prefect.context import FlowRunContext, TaskRunContext, get_run_context
from prefect.exceptions import MissingContextError


@task
def inside_task() -> str:
    ctx = get_run_context()
    assert isinstance(ctx, TaskRunContext)
    assert TaskRunContext.get() is ctx
    return ctx.task_run.name


@flow
def inside_flow() -> tuple[str, str]:
    ctx = get_run_context()
    assert isinstance(ctx, FlowRunContext)
    assert FlowRunContext.get().flow_run.id == ctx.flow_run.id
    return ctx.flow_run.flow_name if hasattr(ctx.flow_run, "flow_name") else ctx.flow.name, \
        inside_task()


assert inside_flow() == ("inside-flow", "inside_task-0")
try:
    get_run_context()
except MissingContextError:
    pass
else:
    raise AssertionError("expected MissingContextError")
assert FlowRunContext.get() is None and TaskRunContext.get() is None
print("SNIPPET OK")
