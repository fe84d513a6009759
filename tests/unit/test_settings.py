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


@pytest.mark.parametrize("command", [["serve"], ["admin", "user", "list"], ["db", "upgrade"]])
def test_invalid_settings_stop_server_commands_with_a_line_per_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    from typer.testing import CliRunner

    from taxiway.cli.main import app

    monkeypatch.setenv("TAXIWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TAXIWAY_WORKERS", "-1")
    monkeypatch.setenv("TAXIWAY_MODELS", '{"sr": {"engine": "esrgan", "path": "sr.pth"}}')
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: invalid settings")
    assert lines[1] == "  workers: Input should be greater than or equal to 0"
    assert lines[2].startswith("  models.sr: Input tag 'esrgan' found using 'engine' does not match")
    assert "Traceback" not in result.output
