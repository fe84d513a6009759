"""`taxiway dispatcher`'s own errors, and the CLI staying free of Ray until the dispatcher runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxiway.cli.main import app


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAXIWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TAXIWAY_RAY_ADDRESS", raising=False)


def test_a_ray_address_is_required() -> None:
    result = CliRunner().invoke(app, ["dispatcher"])
    assert result.exit_code == 2
    assert "no Ray cluster given: pass --ray-address or set TAXIWAY_RAY_ADDRESS" in result.stderr
    assert "Traceback" not in result.stderr


def test_at_least_one_slot_is_required() -> None:
    result = CliRunner().invoke(app, ["dispatcher", "--ray-address", "127.0.0.1:6379", "--cpu-slots", "0"])
    assert result.exit_code == 2
    assert "no worker slots: set --cpu-slots and/or --gpu-slots to at least 1" in result.stderr


def test_gpu_slots_that_would_never_run_are_refused() -> None:
    args = ["dispatcher", "--ray-address", "127.0.0.1:6379", "--gpu-slots", "1", "--no-neural"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "ray_gpu_slots is set but run_neural is false" in result.stderr


def test_the_cli_does_not_load_ray() -> None:
    # `taxiway --help` and the client commands must start fast: Ray loads only in the dispatcher.
    code = "import sys, taxiway.cli.main; print('ray' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    help_text = CliRunner().invoke(app, ["dispatcher", "--help"]).output
    assert "--ray-address" in help_text and "--gpu-slots" in help_text
