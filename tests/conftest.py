"""Shared fixtures: where the data sets beside the checkout live.

The project's data sets (``../shared`` beside the checkout, or the folder named
by ``TINYKWS_SHARED``) are present in CI but not on every fresh clone. Tests
that need them ask for one of these fixtures and are skipped, with the reason,
when it is absent. Everything else builds its own small fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TINYKWS_SHARED", REPO.parent / "shared"))


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", default=False,
                     help="run long property tests with many more examples")


def pytest_configure(config):
    # Hypothesis profiles: the default run is bounded; --slow digs deeper.
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
    )
    settings.register_profile(
        "slow", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    settings.load_profile("slow" if config.getoption("--slow") else "default")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="long test: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def _shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"shared data set not found at {path} (set TINYKWS_SHARED or place ../shared)")
    return path


@pytest.fixture(scope="session")
def speech_synth_dir() -> Path:
    """``../shared/speech_synth``: synthetic keywords in the training layout."""
    return _shared("speech_synth")


@pytest.fixture(scope="session")
def real_test_dir() -> Path:
    """``../shared/speech_commands_test_v0.02``: real speakers, test-set layout."""
    return _shared("speech_commands_test_v0.02")


@pytest.fixture(scope="session")
def reference_models_dir() -> Path:
    """``../shared/reference_models``: TinyConv-shaped int8 models made by TensorFlow."""
    return _shared("reference_models")
