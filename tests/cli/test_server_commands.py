"""The server-side commands (serve, admin, db) stop before starting on a bad configuration, with one
clear line per problem and no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import free_port
from taxiway.cli.main import app

COMMANDS = [["serve"], ["admin", "user", "list"], ["db", "upgrade"]]


@pytest.fixture(autouse=True)
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAXIWAY_DATA_DIR", str(tmp_path))


@pytest.mark.parametrize("command", COMMANDS)
def test_invalid_settings_are_a_line_per_problem(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setenv("TAXIWAY_WORKERS", "-1")
    monkeypatch.setenv("TAXIWAY_MODELS", '{"sr": {"engine": "esrgan", "path": "sr.pth"}}')
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: invalid settings")
    assert lines[1] == "  workers: Input should be greater than or equal to 0"
    assert lines[2].startswith("  models.sr: Input tag 'esrgan' found using 'engine' does not match")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+psycopg://postgres:hunter2@127.0.0.1:{port}/test", "cannot be reached: connection"),
        ("mysql://db/taxiway", "needs a driver that is not installed: No module named 'MySQLdb'"),
        ("nosuchdb://db/taxiway", "cannot be used: Can't load plugin: sqlalchemy.dialects:nosuchdb"),
        ("not a url", "the database URL is not valid"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line(
    monkeypatch: pytest.MonkeyPatch, command: list[str], url: str, says: str
) -> None:
    monkeypatch.setenv("TAXIWAY_DATABASE_URL", url.format(port=free_port()))
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line
    assert "hunter2" not in line  # the password stays out of logs


def test_an_unusable_data_directory_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("TAXIWAY_DATA_DIR", str(tmp_path / "file" / "data"))
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: the data directory {tmp_path / 'file' / 'data'} cannot be used")


def test_a_metrics_port_that_is_the_api_port_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("TAXIWAY_METRICS_PORT", str(port))
    result = CliRunner().invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1] == (
        f"  metrics_port is {port}, the API's own port: give metrics a port of their own, or unset "
        "metrics_port to serve /metrics on the API's port"
    )


def test_a_metrics_port_in_use_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("TAXIWAY_METRICS_PORT", str(port))
        result = CliRunner().invoke(app, ["serve", "--port", str(free_port())])
    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: metrics_port {port} cannot be used: [Errno 98] Address already in use")
