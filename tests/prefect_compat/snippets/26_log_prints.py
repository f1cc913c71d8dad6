# Idiom: log_prints=True on a flow; a task's log_prints=False wins inside it.
import contextlib
import io
import logging

from prefect import flow, task

records = []


class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())


@task
def chatty() -> None:
    print("logged line")


@task(log_prints=False)
def quiet() -> None:
    print("plain line")


@flow(log_prints=True)
def printing() -> None:
    chatty()
    quiet()


for name in ("prefect", "orchestrate_nb"):
    logging.getLogger(name).addHandler(Keep())
out = io.StringIO()
with contextlib.redirect_stdout(out):
    printing()
assert "logged line" in records and "plain line" not in records, records
assert "plain line" in out.getvalue()
print("SNIPPET OK")
