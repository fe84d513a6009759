"""`taxiway admin …` and `taxiway db …`: operator commands acting on the database directly."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from taxiway.context import AppContext

# The server's modules (SQLAlchemy, Alembic) load only when an admin command runs, so that
# `taxiway upscale …` and the other client commands start quickly.

admin = typer.Typer(
    help="Administer users, tokens, accounts and credits (acts on the database directly).",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Users and their API tokens.", no_args_is_help=True)
token_app = typer.Typer(help="Extra API tokens.", no_args_is_help=True)
credits_app = typer.Typer(help="Account credits.", no_args_is_help=True)
account_app = typer.Typer(help="Account plans.", no_args_is_help=True)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
admin.add_typer(user_app, name="user")
admin.add_typer(token_app, name="token")
admin.add_typer(credits_app, name="credits")
admin.add_typer(account_app, name="account")

err = Console(stderr=True)
T = TypeVar("T")

UserOption = Annotated[
    str | None, typer.Option("--user", help="The owning user, when several users have this email.")
]


def _run(action: Callable[[AppContext], T]) -> T:
    """Run an admin action; user errors become one red line and exit code 1, not a traceback."""
    from taxiway.cli.startup import load_settings, open_context
    from taxiway.core.errors import ApiError

    ctx = open_context(load_settings())
    try:
        return action(ctx)
    except ApiError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        ctx.close()


def _users() -> ModuleType:
    from taxiway.users import service

    return service


def _accounts() -> ModuleType:
    from taxiway.accounts import service

    return service


@user_app.command("create")
def user_create(name: str) -> None:
    """Create a user; prints its API token alone on one line (shown only this once)."""
    _, token = _run(lambda ctx: _users().create_user(ctx.db, name))
    typer.echo(token)


@user_app.command("list")
def user_list() -> None:
    """List users with their ids and live token counts."""
    table = Table("name", "id", "live tokens")
    for summary in _run(lambda ctx: _users().list_users(ctx.db)):
        table.add_row(summary.name, summary.id, str(summary.tokens))
    Console().print(table)


@user_app.command("secret")
def user_secret(name: str) -> None:
    """Print the user's callback signing secret (verify webhook-signature headers with it)."""
    typer.echo(_run(lambda ctx: _users().webhook_secret(ctx.db, name)))


@token_app.command("create")
def token_create(
    name: str, label: Annotated[str, typer.Option(help="A note on what the token is for.")] = ""
) -> None:
    """Create another API token for a user; prints it alone on one line."""
    typer.echo(_run(lambda ctx: _users().create_token(ctx.db, name, label)))


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    """Revoke every API token of a user."""
    count = _run(lambda ctx: _users().revoke_tokens(ctx.db, name))
    err.print(f"revoked {count} token(s) of {name}")


@credits_app.command("grant")
def credits_grant(email: str, amount: int, user: UserOption = None) -> None:
    """Add AMOUNT credits to an account (a negative AMOUNT takes credits away)."""
    account = _run(lambda ctx: _accounts().grant_credits(ctx.db, email, amount, user))
    err.print(
        f"{account.email}: {account.credits_permitted} credits permitted, {account.credits_used} used, "
        f"{account.credits_permitted - account.credits_used} available"
    )


@account_app.command("plan")
def account_plan(
    email: str,
    plan: Annotated[str, typer.Argument(help="unlimited or standard")],
    user: UserOption = None,
) -> None:
    """Put an account on the unlimited plan (free exploreMode) or the standard plan."""
    account = _run(lambda ctx: _accounts().set_plan(ctx.db, email, plan, user))
    err.print(f"{account.email} is on the {account.plan} plan")


@account_app.command("storage")
def account_storage(
    email: str,
    gigabytes: Annotated[float, typer.Argument(metavar="GB", help="The quota in GB (10⁹ bytes).")],
    user: UserOption = None,
) -> None:
    """Set how much an account's assets (uploads and artifacts) may store: features.storageGB."""
    account = _run(lambda ctx: _accounts().set_storage_quota(ctx.db, email, gigabytes, user))
    from taxiway.accounts.storage import gb

    err.print(f"{account.email} may store {gb(account.storage_quota_bytes)} GB")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (serve does this at start too)."""
    _run(lambda ctx: None)
    err.print("database is up to date")
