# expect: unsupported RunInput.send_to
# Idiom: sending input from one flow run to another.
from prefect.input import RunInput


class Message(RunInput):
    text: str


Message(text="hello").send_to("00000000-0000-0000-0000-000000000000")
