"""Fixtures for the IVR engine tests: the real flow files and the line's facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.ivr import CallContext, Flow, load_flow

REPO = Path(__file__).resolve().parents[2]
LEUVEN_FILE = REPO / "ivr_flows" / "leuven.toml"
TEST_FLOWS = Path(__file__).resolve().parent / "flows"

LEUVEN_POSTCODES = {"3000": "Leuven", "3001": "Heverlee", "3010": "Kessel-Lo", "3012": "Wilsele"}


@pytest.fixture(scope="session")
def leuven() -> Flow:
    return load_flow(LEUVEN_FILE)


@pytest.fixture(scope="session")
def testdorp() -> Flow:
    return load_flow(TEST_FLOWS / "testdorp.toml")


@pytest.fixture
def open_line() -> CallContext:
    """During opening hours, with an operator free."""
    return CallContext(
        within_opening_hours=True,
        postcodes=LEUVEN_POSTCODES,
        register_url="https://www.leuven.be/vrijwilligers/",
    )


@pytest.fixture
def closed_line() -> CallContext:
    """At night: nobody to take the call."""
    return CallContext(within_opening_hours=False, postcodes=LEUVEN_POSTCODES)
