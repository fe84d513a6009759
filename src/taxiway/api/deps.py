"""Shared dependencies: the app context and the authenticated user, checked in one place."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request, Security
from fastapi.security import APIKeyQuery, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from taxiway.accounts.service import EMAIL_PATTERN, MAX_EMAIL_LENGTH
from taxiway.blobs.links import Links, event_stream_key
from taxiway.context import AppContext
from taxiway.core import ids
from taxiway.core.errors import ApiError, BadRequest, Unauthorized
from taxiway.core.fields import FieldSpec, validate_fields
from taxiway.core.security import hash_token
from taxiway.store.models import ApiToken


async def get_ctx(request: Request) -> AppContext:
    # Async, as every dependency that does no I/O: FastAPI runs a sync one on a worker thread, a
    # hop that costs more than what they do.
    return request.app.state.ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


# Declares the bearer scheme in the OpenAPI document; the 401 is raised here, in the contract's shape.
_bearer = HTTPBearer(auto_error=False, description="An API token (`taxiway admin user create NAME`).")


def current_user(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> str:
    """The user id behind the bearer token; 401 in the contract's shape otherwise."""
    return _token_user(ctx, credentials.credentials.strip() if credentials else "")


def _token_user(ctx: AppContext, token: str) -> str:
    if not token:
        raise Unauthorized()
    with ctx.db.read() as session:
        return _user_of(session, token)


def _user_of(session: Session, token: str) -> str:
    live = select(ApiToken.user_id).where(ApiToken.revoked_at.is_(None))
    user_id = session.scalar(live.where(ApiToken.token_hash == hash_token(token)))
    if user_id is None:
        raise Unauthorized()
    return user_id


CurrentUser = Annotated[str, Depends(current_user)]


@dataclass(frozen=True)
class Caller:
    """A request's bearer token, for a read-only route to check in its own transaction, first
    thing: one transaction and one worker-thread hop a request instead of two (CurrentUser checks
    it in a transaction of its own). The user id comes only from ``user``, so it cannot be skipped."""

    _token: str

    def user(self, session: Session) -> str:
        """The user id behind the token, read in ``session``; 401 in the contract's shape otherwise."""
        return _user_of(session, self._token)


async def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]) -> Caller:
    """The bearer token, not checked yet (401 now if there is none)."""
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise Unauthorized()
    return Caller(token)


TokenCaller = Annotated[Caller, Depends(caller)]

# An EventSource cannot send headers: event streams also take a short-lived signed link
# (POST events/links, made with the token), whose query names the user and the expiry. The token
# itself never goes in a URL.
_signed_link = APIKeyQuery(
    name="signature",
    auto_error=False,
    scheme_name="SignedStreamLink",
    description="A signed stream link from POST /v1/runwayml/events/links: its user, expires and "
    "signature query parameters, instead of the bearer token.",
)


def stream_user(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    signature: Annotated[str | None, Security(_signed_link)],
) -> str:
    """The user of an event stream: the bearer token's, else the signed link's (403 if the link is
    wrong or expired); 401 with neither."""
    token = credentials.credentials.strip() if credentials else ""
    if token or signature is None:
        return _token_user(ctx, token)
    query = request.query_params
    task_ref = request.path_params.get("task_id")
    task_id = ids.parse("task", task_ref) if task_ref is not None else None
    user = query.get("user", "")
    key = event_stream_key(user, task_id, query.get("email") or None)
    if (
        not user
        or (task_ref is not None and task_id is None)
        or not ctx.signer.verify(key, query.get("expires", ""), signature)
    ):
        raise ApiError(
            403, "This stream link is invalid or has expired; get a fresh one from POST events/links"
        )
    return user


StreamUser = Annotated[str, Depends(stream_user)]


# Path parameters, with what the services accept stated for the document (they check it themselves,
# with their own messages).
AssetRef = Annotated[
    str,
    Path(
        description="The assetId (or its bare uuid).",
        json_schema_extra={"pattern": ids.ref_pattern("asset")},
    ),
]
TaskRef = Annotated[
    str,
    Path(
        description="The taskId (or its bare uuid).",
        json_schema_extra={"pattern": ids.ref_pattern("task")},
    ),
]
AccountEmail = Annotated[
    str,
    Path(
        description="The account's email.",
        json_schema_extra={"pattern": EMAIL_PATTERN, "maxLength": MAX_EMAIL_LENGTH},
    ),
]


async def request_links(request: Request, ctx: Ctx) -> Links:
    """Links signed against the base URL the caller used, so they work from where it stands."""
    return ctx.links(str(request.base_url))


RequestLinks = Annotated[Links, Depends(request_links)]


def read_query(request: Request, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """The query string's fields, validated; other parameters (cache-busters) are ignored. A field
    given twice is refused: which one would count?"""
    params = request.query_params
    repeated = [spec.name for spec in specs if len(params.getlist(spec.name)) > 1]
    if repeated:
        raise BadRequest(f"{', '.join(repeated)} given more than once in the query string; give each once")
    return validate_fields(specs, dict(params), ignore_unknown=True)


async def read_body(request: Request) -> dict[str, Any]:
    """A JSON object or multipart/urlencoded form, as the contract allows; {} when empty."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        files = [key for key, value in form.multi_items() if not isinstance(value, str)]
        if files:
            raise BadRequest(f"form field {files[0]} is a file; upload files with POST /v1/runwayml/assets/")
        return {key: value for key, value in form.multi_items()}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    return body
