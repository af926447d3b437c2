"""Settings come from JOURNEY_* variables; empty addresses mean the embedded servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from journey.core.config import Settings, get_settings


def test_defaults_describe_the_embedded_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOURNEY_DATABASE_URL", "JOURNEY_TEMPORAL_ADDRESS", "JOURNEY_KAFKA_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url == "sqlite:///.journey/journey.db"
    assert settings.resolved_temporal_address == "127.0.0.1:7233"
    assert settings.resolved_temporal_ui_url == "http://127.0.0.1:8233"
    assert settings.resolved_kafka_bootstrap == "127.0.0.1:9092"
    assert settings.resolved_mail_dir == Path(".journey/mail")
    assert settings.embedded_temporal and settings.embedded_kafka and settings.embedded_smtp


def test_environment_points_at_real_infrastructure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEY_TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("JOURNEY_KAFKA_BOOTSTRAP", "kafka:9092")
    monkeypatch.setenv("JOURNEY_DATABASE_URL", "postgresql+psycopg://j:j@postgres/journey")
    monkeypatch.setenv("JOURNEY_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("JOURNEY_SMTP_PASSWORD", "hunter2")
    settings = Settings(_env_file=None)
    assert settings.resolved_temporal_address == "temporal:7233"
    assert settings.resolved_kafka_bootstrap == "kafka:9092"
    assert settings.resolved_database_url.startswith("postgresql+psycopg://")
    assert not (settings.embedded_temporal or settings.embedded_kafka or settings.embedded_smtp)
    assert "hunter2" not in repr(settings)


def test_invalid_values_are_rejected_with_the_field_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEY_API_PORT", "eighty")
    with pytest.raises(ValueError, match="api_port"):
        Settings(_env_file=None)


def test_get_settings_is_built_once_and_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("JOURNEY_API_PORT", "8123")
    try:
        assert get_settings().api_port == 8123
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_throttled_actions_are_the_kinds_with_a_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).throttled_actions == []
    monkeypatch.setenv("JOURNEY_WEBHOOK_MAX_PER_SECOND", "2.5")
    settings = Settings(_env_file=None)
    assert settings.throttled_actions == ["webhook"]
    assert settings.action_rates == {"email": None, "webhook": 2.5}
    monkeypatch.setenv("JOURNEY_EMAIL_MAX_PER_SECOND", "0")  # would stop every email
    with pytest.raises(ValueError, match="email_max_per_second"):
        Settings(_env_file=None)
