"""One frozen settings object, built once from settings.toml and NEWSINGEST_* variables."""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOGGER = logging.getLogger(__name__)

DEFAULTS_FILE = Path(__file__).with_name("settings.toml")
ENV_PREFIX = "NEWSINGEST_"


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every tunable of the pipeline; see settings.toml for meanings and defaults."""

    dsn: str = ""
    registry: str = ""
    user_agent: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_page_bytes: int = 5_000_000
    max_feed_bytes: int = 10_000_000
    max_redirects: int = 5
    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    allow_hosts: tuple[str, ...] = field(default_factory=tuple)
    respect_robots: bool = True
    host_delay: float = 0.25
    host_concurrency: int = 2
    global_concurrency: int = 16
    max_pages_per_feed: int = 200
    min_body_chars: int = 400
    max_teaser_chars: int = 1200
    max_body_chars: int = 150_000
    max_title_chars: int = 1000
    max_future_skew_hours: int = 24
    min_extraction_confidence: float = 0.5
    dedup_window_days: int = 14
    dedup_near_threshold: float = 0.05
    dedup_min_shared: int = 2
    dedup_candidates: int = 8
    dedup_sentence_share: float = 0.5
    dedup_verify_share: float = 0.4
    dedup_max_offset: float = 0.2
    dedup_max_founder_offset: float = 0.3
    dedup_df_cap: int = 10
    dedup_boilerplate_docs: int = 5
    dedup_boilerplate_contexts: int = 4
    dedup_secondary_share: float = 0.2
    raw_retention_days: int = 14
    max_failed_feed_share: float = 0.5
    max_duplicate_share: float = 0.9
    extract_chunk_pages: int = 200
    extract_processes: int = 0
    extract_shards: int = 2
    health_weeks: int = 8
    health_min_history: int = 3
    health_mad_factor: float = 3.0
    health_min_drop_share: float = 0.5
    health_min_expected: float = 2.0
    health_silent_days: int = 3
    health_skipped_jump: float = 0.3
    health_min_pages: int = 5
    max_alerted_feed_share: float = 0.5

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise SettingsError("connect_timeout and read_timeout must be positive")
        if self.total_timeout < self.read_timeout:
            raise SettingsError(
                f"total_timeout ({self.total_timeout}) must be >= "
                f"read_timeout ({self.read_timeout})"
            )
        if self.host_concurrency < 1 or self.global_concurrency < self.host_concurrency:
            raise SettingsError("need 1 <= host_concurrency <= global_concurrency")
        if not 0.0 <= self.max_failed_feed_share <= 1.0:
            raise SettingsError("max_failed_feed_share must lie between 0 and 1")
        if not 0.0 < self.dedup_near_threshold <= 1.0:
            raise SettingsError("dedup_near_threshold must lie in (0, 1]")
        self._check_deduplication()
        if self.retries < 0 or self.max_redirects < 0:
            raise SettingsError("retries and max_redirects must not be negative")
        if not self.min_body_chars <= self.max_teaser_chars <= self.max_body_chars:
            raise SettingsError("need min_body_chars <= max_teaser_chars <= max_body_chars")
        if self.max_title_chars < 10:
            raise SettingsError("max_title_chars must be at least 10")
        self._check_scale_and_health()

    def _check_deduplication(self) -> None:
        if self.dedup_df_cap < 1 or self.dedup_boilerplate_docs < 2:
            raise SettingsError("dedup_df_cap must be >= 1 and dedup_boilerplate_docs >= 2")
        if self.dedup_boilerplate_contexts < 2 or self.dedup_candidates < 1:
            raise SettingsError("need dedup_boilerplate_contexts >= 2 and dedup_candidates >= 1")
        shares = (self.dedup_verify_share, self.dedup_sentence_share, self.dedup_max_offset,
                  self.dedup_max_founder_offset)  # fmt: skip
        if not all(0.0 < share <= 1.0 for share in shares):
            raise SettingsError(
                "dedup_verify_share, dedup_sentence_share and the offsets must lie in (0, 1]"
            )

    def _check_scale_and_health(self) -> None:
        if self.extract_chunk_pages < 1 or self.extract_shards < 1:
            raise SettingsError("extract_chunk_pages and extract_shards must be >= 1")
        if self.extract_processes < 0:
            raise SettingsError("extract_processes must be >= 0 (0: every CPU available)")
        if self.health_weeks < 1 or self.health_silent_days < 1 or self.health_min_history < 1:
            raise SettingsError("health_weeks, health_silent_days, health_min_history must be >= 1")
        names = ("health_min_drop_share", "health_skipped_jump", "max_alerted_feed_share")
        if not all(0.0 <= getattr(self, name) <= 1.0 for name in names):
            raise SettingsError(f"{', '.join(names)} must lie between 0 and 1")
        if not 0.0 <= self.min_extraction_confidence <= 1.0:
            raise SettingsError("min_extraction_confidence must lie between 0 and 1")

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _to_bool(raw: object) -> bool:
    """Read a boolean written as true/false, yes/no, on/off or 1/0."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
        raise ValueError(text)
    return text in {"1", "true", "yes", "on"}


def _coerce(name: str, raw: object, kind: object) -> object:
    """Convert a value from TOML or the environment to the field's type."""
    try:
        if kind == "bool":
            return _to_bool(raw)
        if kind == "int":
            return int(str(raw).replace("_", ""))
        if kind == "float":
            return float(raw)  # type: ignore[arg-type]
        if kind == "tuple[str, ...]":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"setting {name}: cannot read {raw!r} as {kind}") from exc


def load_settings(
    environ: Mapping[str, str] | None = None, defaults_file: Path = DEFAULTS_FILE
) -> Settings:
    """Build the settings: the defaults file, then NEWSINGEST_* variables on top.

    Args:
        environ: variables to read (default: the process environment).
        defaults_file: the commented TOML file of defaults.

    Returns:
        A validated, frozen Settings.
    """
    env = os.environ if environ is None else environ
    with defaults_file.open("rb") as handle:
        sections = tomllib.load(handle)
    flat: dict[str, object] = {}
    for values in sections.values():
        flat.update(values)
    kinds = {f.name: f.type for f in dataclasses.fields(Settings)}
    unknown = set(flat) - set(kinds)
    if unknown:
        raise SettingsError(f"unknown keys in {defaults_file}: {sorted(unknown)}")
    for name in kinds:
        key = ENV_PREFIX + name.upper()
        if key in env:
            flat[name] = env[key]
    values = {name: _coerce(name, raw, kinds[name]) for name, raw in flat.items()}
    return Settings(**values)
