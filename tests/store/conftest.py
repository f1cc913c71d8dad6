"""Store fixtures: settings for the backend under test, a reporter, raw SQL reads."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from orchestrate_nb.settings import Settings, load_settings
from orchestrate_nb.store.reporter import StoreReporter, create_store_reporter


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings()


@pytest.fixture(params=["process", "thread"])
def reporter(settings: Settings, request: pytest.FixtureRequest) -> Iterator[StoreReporter]:
    """The store's reporter with each writer: a writer process (the default) and a thread."""
    reporter = create_store_reporter(dataclasses.replace(settings, store_writer=request.param))
    yield reporter
    reporter.close()


