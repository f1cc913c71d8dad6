# expect: unsupported Task.delay
# Idiom: background tasks sent to task workers.
from prefect import task


@task
def send_email(to: str) -> None: ...


send_email.delay("someone@example.org")
