"""Tests of newsingest.settings."""

from __future__ import annotations

import pytest

from newsingest.settings import Settings, SettingsError, load_settings


def test_defaults_come_from_the_commented_file() -> None:
    settings = load_settings({})
    assert settings.host_concurrency == 2
    assert settings.respect_robots is True
    assert settings.allow_hosts == ()
    assert settings.user_agent.startswith("newsingest/")


def test_environment_overrides_with_types() -> None:
    settings = load_settings(
        {
            "NEWSINGEST_ALLOW_HOSTS": "127.0.0.1, localhost",
            "NEWSINGEST_RESPECT_ROBOTS": "no",
            "NEWSINGEST_MAX_PAGE_BYTES": "1_000",
            "NEWSINGEST_HOST_DELAY": "0.75",
        }
    )
    assert settings.allow_hosts == ("127.0.0.1", "localhost")
    assert settings.respect_robots is False
    assert settings.max_page_bytes == 1000
    assert settings.host_delay == 0.75


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSINGEST_RESPECT_ROBOTS": "maybe"}, "respect_robots"),
        ({"NEWSINGEST_RETRIES": "three"}, "retries"),
        ({"NEWSINGEST_TOTAL_TIMEOUT": "1", "NEWSINGEST_READ_TIMEOUT": "5"}, "total_timeout"),
        ({"NEWSINGEST_HOST_CONCURRENCY": "8", "NEWSINGEST_GLOBAL_CONCURRENCY": "4"}, "concurrency"),
        ({"NEWSINGEST_MAX_FAILED_FEED_SHARE": "1.5"}, "max_failed_feed_share"),
    ],
)
def test_bad_values_are_rejected_at_build_time(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.retries = 9  # type: ignore[misc]
    assert settings.replace(retries=9).retries == 9
