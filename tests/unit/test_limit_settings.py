"""Input limits are set by command-line option or environment variable, and checked at start."""

import re

import pytest

from playground.limits import TextLimits
from playground.settings import SettingsError, load_settings


def test_limits_are_set_by_option_or_environment_and_checked():
    settings = load_settings(["--max-message-chars", "100"], {"HERMES_MAX_GOLD_CHARS": "7"})
    assert settings.limits == TextLimits(message_chars=100, gold_chars=7)
    assert load_settings([], {}).limits == TextLimits()
    with pytest.raises(SettingsError, match=re.escape("$HERMES_MAX_TOOLS_CHARS must be at least 1")):
        load_settings([], {"HERMES_MAX_TOOLS_CHARS": "0"})
