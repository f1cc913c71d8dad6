"""Fixtures: real receivers on 127.0.0.1 and a private secret key (``tests/receivers.py``)."""

from receivers import private_secret_key, receiver, smtp_receiver  # noqa: F401
