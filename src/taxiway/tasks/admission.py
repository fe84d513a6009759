"""Admission: validate, pick an account, hold maxJobs and credits exactly, record the task.

Exactness under concurrency: the candidate accounts' rows are locked (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's write transactions are serialised by BEGIN IMMEDIATE) before live tasks
are counted and credits checked, so two requests can never both take the last slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taxiway.accounts.service import (
    adjust_credits_used,
    check_email,
    check_reply_url,
    get_account,
    require_accounts,
)
from taxiway.core import ids
from taxiway.core.context import AppContext
from taxiway.core.errors import AccountBusy, BadRequest, InsufficientCredits
from taxiway.core.fields import validate_fields
from taxiway.engines.catalog import EngineChoice, UnknownModel, choose
from taxiway.store.models import Account, Task, utcnow
from taxiway.tasks.operations import Operation
from taxiway.tasks.planning import Plan, credits_for, plan_task
from taxiway.tasks.presenter import running_task_json
from taxiway.tasks.states import LIVE_STATUSES, PENDING


@dataclass
class _Choice:
    account: Account
    cost: int


def _candidates(session: Session, user_id: str, plan: Plan, email: str | None) -> list[Account]:
    """Accounts that may run the task, preferred first, locked for the rest of the transaction."""
    if email:
        account_ids = [get_account(session, user_id, email).id]
    else:
        video_account = plan.inputs["video"].account
        others = [account.id for account in require_accounts(session, user_id)]
        preferred = [video_account.id] if video_account.deleted_at is None else []
        account_ids = preferred + [account_id for account_id in others if account_id not in preferred]
    # Lock in id order (a global order) so concurrent admissions cannot deadlock.
    locked = {
        account.id: account
        for account in session.scalars(
            select(Account)
            .where(Account.id.in_(account_ids))
            .order_by(Account.id)
            .with_for_update(of=Account)
            # Rows already in the session must be re-read now that they are locked.
            .execution_options(populate_existing=True)
        )
    }
    return [locked[account_id] for account_id in account_ids]


def _live_counts(session: Session, account_ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(Task.account_id, func.count())
        .where(Task.account_id.in_(account_ids), Task.status.in_(LIVE_STATUSES))
        .group_by(Task.account_id)
    ).all()
    return {account_id: count for account_id, count in rows}


def _choose(session: Session, candidates: list[Account], values: dict[str, Any], base_cost: int) -> _Choice:
    live = _live_counts(session, [account.id for account in candidates])

    def limit(account: Account) -> int:
        return values["maxJobs"] or account.max_jobs

    free = [account for account in candidates if live.get(account.id, 0) < limit(account)]
    if not free:
        busy = candidates[0]
        running = session.scalars(
            select(Task)
            .where(Task.account_id == busy.id, Task.status.in_(LIVE_STATUSES))
            .order_by(Task.created_at)
        )
        raise AccountBusy(busy.email, limit(busy), [running_task_json(task) for task in running])
    if values["exploreMode"]:
        for account in free:
            if account.plan == "unlimited":
                return _Choice(account, 0)
        raise InsufficientCredits(
            f"exploreMode is free only on the unlimited plan, and account {free[0].email} is on the "
            f"{free[0].plan} plan. Send exploreMode: false to pay with credits, or ask the operator to run "
            f"`taxiway admin account plan {free[0].email} unlimited`."
        )
    for account in free:
        if account.credits_permitted - account.credits_used >= base_cost:
            return _Choice(account, base_cost)
    account = free[0]
    raise InsufficientCredits(
        creditsRequired=base_cost,
        creditsAvailable=account.credits_permitted - account.credits_used,
        email=account.email,
    )


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
        candidates = _candidates(session, user_id, plan, values["email"])
        choice = _choose(session, candidates, values, credits_for(plan, ctx.settings))
        now = utcnow()
        task = Task(
            id=ids.new_uuid(),
            user_id=user_id,
            account_id=choice.account.id,
            operation=op.path,
            name=plan.name,
            params=plan.params,
            options=plan.options,
            input_asset_ids=plan.input_asset_ids,
            engine=engine.engine,
            status=PENDING,
            reply_url=values["replyUrl"],
            reply_ref=values["replyRef"],
            explore_mode=values["exploreMode"],
            output_seconds=plan.output_seconds,
            cost=choice.cost,
            created_at=now,
            updated_at=now,
        )
        adjust_credits_used(session, choice.account.id, choice.cost)
        session.add(task)
        session.flush()
        session.refresh(task)
        return task
