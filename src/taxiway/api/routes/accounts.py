"""Accounts and their credit features."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from taxiway.accounts import service
from taxiway.api.deps import AccountEmail, Ctx, CurrentUser, read_body, read_query
from taxiway.api.openapi import component, errors, fields_body, ok
from taxiway.core.fields import FieldSpec, query_parameters

router = APIRouter(tags=["accounts"])
ACCOUNT = component("Account", service.ACCOUNT_SCHEMA)
_NO_ACCOUNT = "No account with this email (or it was deleted)."
FEATURES_FIELDS = (FieldSpec("email", "string", "The account; optional when you have only one."),)


@router.post(
    "/accounts/{email}",
    summary="Create an account, or update its maxJobs and replyUrl.",
    response_model=None,
    responses=ok(ACCOUNT) | errors(400, 401),
    openapi_extra={"requestBody": fields_body(service.ACCOUNT_FIELDS)},
)
async def upsert_account(
    email: AccountEmail, request: Request, ctx: Ctx, user: CurrentUser
) -> dict[str, Any]:
    body = await read_body(request)
    account = await run_in_threadpool(service.upsert_account, ctx.db, ctx.settings, user, email, body)
    return service.account_json(account)


@router.get(
    "/accounts",
    summary="All your accounts, keyed by email.",
    response_model=None,
    responses=ok({"type": "object", "additionalProperties": ACCOUNT}) | errors(401),
)
@router.get("/accounts/", include_in_schema=False)
def list_accounts(ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    with ctx.db.read() as session:
        return {
            account.email: service.account_json(account) for account in service.active_accounts(session, user)
        }


@router.get(
    "/accounts/{email}",
    summary="One account.",
    response_model=None,
    responses=ok(ACCOUNT) | errors(401, 404, meaning={404: _NO_ACCOUNT}),
)
def get_account(email: AccountEmail, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    with ctx.db.read() as session:
        return service.account_json(service.get_account(session, user, email))


@router.delete(
    "/accounts/{email}",
    status_code=204,
    summary="Delete an account (its assets and tasks stay).",
    responses=ok(status=204, description="Deleted.")
    | errors(401, 404, 409, meaning={404: _NO_ACCOUNT, 409: "The account has live tasks."}),
)
def delete_account(email: AccountEmail, ctx: Ctx, user: CurrentUser) -> Response:
    service.delete_account(ctx.db, user, email)
    return Response(status_code=204)


@router.get(
    "/features",
    summary="Credits and storage permitted and used on an account.",
    response_model=None,
    responses=ok(component("Features", service.FEATURES_SCHEMA))
    | errors(
        400,
        401,
        404,
        meaning={400: "No account yet, or several and no email.", 404: _NO_ACCOUNT},
    ),
    openapi_extra={"parameters": query_parameters(FEATURES_FIELDS)},
)
@router.get("/features/", include_in_schema=False)
def features(request: Request, ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    query = read_query(request, FEATURES_FIELDS)
    with ctx.db.read() as session:
        return service.features_json(session, service.account_for_query(session, user, query["email"]))
