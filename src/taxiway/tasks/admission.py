"""Admission: validate, find the paying account, hold maxJobs and credits exactly, record the task.

Exactness under concurrency: the account's row is locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's write transactions are serialised by BEGIN IMMEDIATE) before live tasks
are counted and credits checked, so two requests can never both take the last slot.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from taxiway.accounts.service import (
    adjust_credits_used,
    check_email,
    check_reply_url,
    get_account,
)
from taxiway.accounts.storage import lock_account
from taxiway.context import AppContext
from taxiway.core import ids
from taxiway.core.errors import AccountBusy, BadRequest, InsufficientCredits
from taxiway.core.fields import validate_fields
from taxiway.engines.catalog import EngineChoice, UnknownModel, choose
from taxiway.store.live import live_task_count, live_tasks
from taxiway.store.models import Account, Task, utcnow
from taxiway.store.states import PENDING
from taxiway.tasks.operations import Operation
from taxiway.tasks.planning import Plan, credits_for, plan_task
from taxiway.tasks.presenter import running_task_json


def _account(session: Session, user_id: str, plan: Plan, email: str | None) -> Account:
    """The account that runs and pays: the one ``email`` names, else the one owning the input
    video (the contract: "the account that owns the asset is charged"); never another one.
    Locked for the rest of the transaction."""
    if email:
        account_id = get_account(session, user_id, email).id
    else:
        owner = plan.inputs["video"].account
        if owner.deleted_at is not None:
            raise BadRequest(
                f"The input video belongs to account {owner.email}, which has been deleted; create it "
                f"again with POST /v1/runwayml/accounts/{owner.email} or send email to choose an account"
            )
        account_id = owner.id
    return lock_account(session, account_id)


def _cost(session: Session, account: Account, values: dict[str, Any], base_cost: int) -> int:
    """What the task costs ``account``; raises the contract's 429 (busy) or 412 (credits)."""
    limit = values["maxJobs"] or account.max_jobs
    if live_task_count(session, account.id) >= limit:
        running = live_tasks(session, account_id=account.id)
        raise AccountBusy(account.email, limit, [running_task_json(task) for task in running])
    if values["exploreMode"]:
        if account.plan == "unlimited":
            return 0
        raise InsufficientCredits(
            f"exploreMode is free only on the unlimited plan, and account {account.email} is on the "
            f"{account.plan} plan. Send exploreMode: false to pay with credits, or ask the operator to run "
            f"`taxiway admin account plan {account.email} unlimited`."
        )
    available = account.credits_permitted - account.credits_used
    if available < base_cost:
        raise InsufficientCredits(creditsRequired=base_cost, creditsAvailable=available, email=account.email)
    return base_cost


def validate_request(
    ctx: AppContext, op: Operation, body: dict[str, Any]
) -> tuple[dict[str, Any], EngineChoice]:
    """Everything that needs no database: field types and ranges, callback URL, email syntax, model."""
    values = validate_fields(op.all_fields, body)
    check_reply_url(values["replyUrl"], ctx.settings)
    if values["email"]:
        check_email(values["email"])
    try:
        engine = choose(
            op.engine_operation,
            ctx.settings,
            values["model"],
            neural_default=bool(values["model"]) or ctx.devices.neural_by_default(),
        )
    except UnknownModel as exc:
        raise BadRequest(str(exc)) from exc
    return values, engine


def admit_task(ctx: AppContext, user_id: str, op: Operation, body: dict[str, Any]) -> Task:
    """Create a PENDING task for `op`, or raise the contract's 400/404/412/429 error."""
    values, engine = validate_request(ctx, op, body)
    with ctx.db.write() as session:
        plan = plan_task(session, user_id, op, values, engine)
        account = _account(session, user_id, plan, values["email"])
        cost = _cost(session, account, values, credits_for(plan, ctx.settings))
        now = utcnow()
        task = Task(
            id=ids.new_uuid(),
            user_id=user_id,
            account_id=account.id,
            operation=op.path,
            name=plan.name,
            params=plan.params,
            options=plan.options,
            input_asset_ids=plan.input_asset_ids,
            engine=engine.engine,
            status=PENDING,
            # The account's default callback, when used, is shown as the task's own.
            reply_url=values["replyUrl"] or account.reply_url,
            reply_ref=values["replyRef"],
            explore_mode=values["exploreMode"],
            output_seconds=plan.output_seconds,
            cost=cost,
            created_at=now,
            updated_at=now,
        )
        adjust_credits_used(session, account.id, cost)
        session.add(task)
        session.flush()
        session.refresh(task)
        return task
