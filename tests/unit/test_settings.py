"""Settings come from the environment and an optional TOML file; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from taxiway.core.settings import Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'taxiway-data' / 'taxiway.db'}"
    assert settings.resolved_blob_dir == tmp_path / "taxiway-data" / "blobs"
    assert settings.max_upload_bytes == 2 * 1024**3
    assert settings.default_credits == 1000
    assert settings.allow_private_callbacks is False


def test_toml_file_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "taxiway.toml"
    config.write_text('workers = 3\ndefault_credits = 50\npublic_url = "https://media.example.com/"\n')
    monkeypatch.setenv("TAXIWAY_CONFIG", str(config))
    monkeypatch.setenv("TAXIWAY_DEFAULT_CREDITS", "75")
    monkeypatch.setenv("TAXIWAY_ALLOW_PRIVATE_CALLBACKS", "1")
    settings = Settings()
    assert settings.workers == 3
    assert settings.default_credits == 75
    assert settings.public_url == "https://media.example.com"
    assert settings.allow_private_callbacks is True


def test_metrics_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert (settings.metrics_enabled, settings.metrics_token, settings.metrics_port) == (True, "", None)
    monkeypatch.setenv("TAXIWAY_METRICS_PORT", "9464")
    monkeypatch.setenv("TAXIWAY_METRICS_TOKEN", "scrape-secret")
    assert (Settings().metrics_port, Settings().metrics_token) == (9464, "scrape-secret")
    with pytest.raises(ValueError, match="metrics_port is 9464, the API's own port"):
        Settings(port=9464)
