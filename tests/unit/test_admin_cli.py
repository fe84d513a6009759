"""The operator interface: exact output that scripts depend on, clear one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from taxiway.accounts.service import upsert_account
from taxiway.cli.main import app
from taxiway.context import AppContext
from taxiway.core.settings import Settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TAXIWAY_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_user_create_prints_only_the_token(env: Path) -> None:
    code, out, _ = run("admin", "user", "create", "alice")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("twy_") and len(lines[0]) > 40
    code, _, err = run("admin", "user", "create", "alice")
    assert code == 1
    assert "A user named 'alice' already exists" in err
    assert "Traceback" not in err


def test_credits_and_plan_act_on_an_account(env: Path) -> None:
    run("admin", "user", "create", "bob")
    ctx = AppContext.build(Settings())
    from taxiway.users.service import list_users

    [bob] = list_users(ctx.db)
    upsert_account(
        ctx.db, ctx.settings, bob.id, "bob@example.com", {"email": "bob@example.com", "maxJobs": 2}
    )
    ctx.close()
    code, _, err = run("admin", "credits", "grant", "bob@example.com", "250")
    assert code == 0
    assert "bob@example.com: 1250 credits permitted, 0 used, 1250 available" in err
    code, _, err = run("admin", "account", "plan", "bob@example.com", "unlimited")
    assert code == 0 and "bob@example.com is on the unlimited plan" in err
    code, _, err = run("admin", "account", "plan", "bob@example.com", "gold")
    assert code == 1 and "plan must be one of standard, unlimited" in err
    code, _, err = run("admin", "credits", "grant", "nobody@example.com", "5")
    assert code == 1 and "No account nobody@example.com" in err


def test_tokens_secret_and_listing(env: Path) -> None:
    run("admin", "user", "create", "carol")
    code, out, _ = run("admin", "token", "create", "carol", "--label", "ci")
    assert code == 0 and out.strip().startswith("twy_")
    code, out, _ = run("admin", "user", "secret", "carol")
    assert code == 0 and out.strip().startswith("whsec_")
    code, out, _ = run("admin", "user", "list")
    assert code == 0 and "carol" in out and "2" in out
    code, _, err = run("admin", "token", "revoke", "carol")
    assert code == 0 and "revoked 2 token(s) of carol" in err


def test_help_everywhere(env: Path) -> None:
    for args in (
        [],
        ["admin"],
        ["admin", "user"],
        ["admin", "credits"],
        ["admin", "account"],
        ["serve", "--help"],
    ):
        result = CliRunner().invoke(app, [*args, "--help"] if args != ["serve", "--help"] else args)
        assert result.exit_code == 0, args
        assert "Usage" in result.stdout
