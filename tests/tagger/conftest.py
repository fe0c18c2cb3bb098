"""A tiny random MiDashengLM checkpoint, written once per test session."""

import pytest

from archivetag.tagger.midashenglm.loader import load_model
from archivetag.tagger.midashenglm.tiny import make_tiny

TINY_SEED = 7


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("tiny") / "single", seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_sharded_dir(tmp_path_factory):
    return make_tiny(tmp_path_factory.mktemp("tiny") / "sharded", sharded=True, seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """The tiny checkpoint loaded in fp32 on the CPU; tests must not modify it."""
    return load_model(tiny_dir, dtype="float32", device="cpu")
