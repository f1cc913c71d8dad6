"""Store fixtures: settings for the backend under test, a reporter, raw SQL reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrate_nb.settings import Settings, load_settings
from orchestrate_nb.store.reporter import StoreReporter, create_store_reporter


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings()


@pytest.fixture
def reporter(settings: Settings) -> Iterator[StoreReporter]:
    reporter = create_store_reporter(settings)
    yield reporter
    reporter.close()


