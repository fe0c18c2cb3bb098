"""Media for the ingest tests, generated once per session."""

from pathlib import Path

import pytest

from .media import generate, generate_faithful


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("media")
    generate(d)
    return d


@pytest.fixture(scope="session")
def faithful(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faithful")
    generate_faithful(d)
    return d
