"""Accounts and their credit features."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from taxiway.accounts import service
from taxiway.api.deps import Ctx, CurrentUser, read_body, read_query
from taxiway.core.fields import FieldSpec, object_schema

router = APIRouter(tags=["accounts"])


@router.post(
    "/accounts/{email}",
    summary="Create an account, or update its maxJobs and replyUrl.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": object_schema(service.ACCOUNT_FIELDS)}},
        }
    },
)
async def upsert_account(email: str, request: Request, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    body = await read_body(request)
    account = await run_in_threadpool(service.upsert_account, ctx.db, ctx.settings, user, email, body)
    return service.account_json(account)


@router.get("/accounts", summary="All your accounts, keyed by email.")
@router.get("/accounts/", include_in_schema=False)
def list_accounts(ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {
            account.email: service.account_json(account) for account in service.active_accounts(session, user)
        }


@router.get("/accounts/{email}", summary="One account.")
def get_account(email: str, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    with ctx.db.read() as session:
        return service.account_json(service.get_account(session, user, email))


@router.delete("/accounts/{email}", status_code=204, summary="Delete an account (its assets and tasks stay).")
def delete_account(email: str, ctx: Ctx, user: CurrentUser) -> Response:
    service.delete_account(ctx.db, user, email)
    return Response(status_code=204)


FEATURES_FIELDS = (FieldSpec("email", "string", "The account; optional when you have only one."),)


@router.get("/features", summary="Credits and storage permitted and used on an account.")
@router.get("/features/", include_in_schema=False)
def features(request: Request, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    query = read_query(request, FEATURES_FIELDS)
    with ctx.db.read() as session:
        return service.features_json(session, service.account_for_query(session, user, query["email"]))
