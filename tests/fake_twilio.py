"""The Twilio sandbox (hotline.telephony.sandbox) as a pytest fixture.

Use it in a test module with::

    pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

    @pytest.fixture
    def app_config(app_config, fake_twilio):
        return fake_twilio.configure(app_config)

PYTEST_DONT_REWRITE: this module asserts nothing, and without this marker pytest refuses
(warning as error) to load it as a plugin once a test module has imported a name from it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotline.telephony.sandbox import (  # noqa: F401  (re-exported for the tests)
    ACCOUNT_SID,
    AUTH_TOKEN,
    SAMPLE_AUDIO,
    FakeTwilio,
    TwilioRequest,
    start_sandbox,
)


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio REST API on 127.0.0.1 (random port), running for one test."""
    fake, stop = start_sandbox()
    yield fake
    stop()
