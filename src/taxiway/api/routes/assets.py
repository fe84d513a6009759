"""Assets: streamed uploads, listing, reading and deleting."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from taxiway.accounts.storage import check_fits, used_bytes
from taxiway.api.deps import AssetRef, Ctx, CurrentUser, RequestLinks, read_query
from taxiway.api.openapi import component, errors, ok
from taxiway.assets import service
from taxiway.assets.presenter import ASSET_SCHEMA, asset_json
from taxiway.core.disk import check_floor, full_disk_error, is_disk_full
from taxiway.core.errors import BadRequest
from taxiway.core.fields import FieldSpec, query_parameters
from taxiway.core.json_schema import array
from taxiway.core.scratch import sweep, working_dir
from taxiway.store.models import Account

router = APIRouter(tags=["assets"])
ASSET = component("Asset", ASSET_SCHEMA)

UPLOAD_FIELDS = (
    FieldSpec(
        "name",
        "string",
        "The asset's name.",
        required=True,
        max_length=service.MAX_NAME_LENGTH,
        allow_empty=False,
    ),
    FieldSpec("email", "string", "The account to upload to; defaults to the one with most free capacity."),
)
LIST_FIELDS = (
    FieldSpec("offset", "integer", "Assets to skip.", default=0, minimum=0, maximum=1000),
    FieldSpec("limit", "integer", "Assets to return.", default=20, minimum=1, maximum=50),
    FieldSpec("mediaType", "string", "Only assets of this type.", choices=("video", "image")),
    FieldSpec("email", "string", "Only this account's assets."),
    FieldSpec(
        "assetGroupId",
        "string",
        "Only this asset group's assets: an upload and everything made from it (its assetGroupId).",
    ),
    FieldSpec("sha256", "string", "Only uploads of a file with this SHA-256 (hex): has it been uploaded?"),
)


def _size_text(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB" if size >= 1024**3 else f"{size / 1024**2:.1f} MiB"


@router.post(
    "/assets/",
    summary="Upload a file (raw body, its media type as Content-Type) as a new asset.",
    response_model=None,
    responses=ok(ASSET, description="The new asset.")
    | errors(
        400,
        401,
        404,
        413,
        507,
        meaning={
            400: "A query parameter is wrong, the Content-Type is not supported, the body is empty, over "
            "TAXIWAY_MAX_UPLOAD_BYTES or not decodable media of its type, or there is no account yet.",
            404: "The account email names does not exist.",
        },
    ),
    openapi_extra={
        "parameters": query_parameters(UPLOAD_FIELDS),
        "requestBody": {
            "required": True,
            "description": "The file's bytes, with its media type as Content-Type.",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}} for media in service.CONTENT_TYPES
            },
        },
    },
)
@router.post("/assets", include_in_schema=False)
async def upload_asset(request: Request, ctx: Ctx, user: CurrentUser, links: RequestLinks) -> dict[str, Any]:
    query = read_query(request, UPLOAD_FIELDS)
    content_type, kind, extension = service.parse_content_type(request.headers.get("content-type"))
    check_floor(ctx.settings)
    limit = ctx.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadRequest(
            f"The file is {_size_text(int(declared))}; the upload limit is {_size_text(limit)} "
            "(TAXIWAY_MAX_UPLOAD_BYTES)"
        )

    def pick_account() -> tuple[Account, int]:
        with ctx.db.read() as session:
            account = service.choose_upload_account(session, user, query["email"])
            used = used_bytes(session, account.id)
            if declared and declared.isdigit():  # refused before a byte is stored, when it cannot fit
                check_fits(account, used, int(declared))
            return account, used

    account, used = await run_in_threadpool(pick_account)
    account_id = account.id
    uploads = ctx.settings.scratch_dir / "uploads"
    sweep(uploads)  # what a server killed mid-upload left
    try:
        with working_dir(uploads, "upload-") as upload_dir:
            upload = upload_dir / f"source.{extension}"
            sha256 = await _receive(
                request, upload, limit, lambda size: check_fits(account, used, size, "This upload (so far)")
            )

            def create() -> dict[str, Any]:
                asset = service.create_uploaded_asset(
                    ctx,
                    user_id=user,
                    account_id=account_id,
                    name=query["name"],
                    content_type=content_type,
                    kind=kind,
                    upload=upload,
                    sha256=sha256,
                )
                return asset_json(asset, links)

            return await run_in_threadpool(create)
    except ClientDisconnect:
        raise BadRequest("The upload was interrupted before the whole file arrived") from None
    except Exception as exc:
        if is_disk_full(exc):  # its working directory is gone already; the server carries on
            raise full_disk_error(ctx.settings, exc, "The upload") from None
        raise


async def _receive(request: Request, upload: Path, limit: int, check_room: Callable[[int], None]) -> str:
    """Stream the body to ``upload`` chunk by chunk (memory stays flat whatever the file size);
    returns its SHA-256. Refused as soon as it passes ``limit`` or ``check_room`` says no."""
    received = 0
    digest = hashlib.sha256()
    with open(upload, "wb") as handle:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise BadRequest(
                    f"The file is larger than the upload limit of {_size_text(limit)} "
                    "(TAXIWAY_MAX_UPLOAD_BYTES)"
                )
            check_room(received)  # else known only once it has all arrived
            handle.write(chunk)
            digest.update(chunk)
    if received == 0:
        raise BadRequest(
            "The request body is empty: send the file's bytes as the body "
            "(for example curl --data-binary @clip.mp4 -H 'Content-Type: video/mp4')"
        )
    return digest.hexdigest()


@router.get(
    "/assets/",
    summary="List your assets, newest first.",
    response_model=None,
    responses=ok(array(ASSET))
    | errors(400, 401, 404, meaning={404: "The account email names does not exist."}),
    openapi_extra={"parameters": query_parameters(LIST_FIELDS)},
)
@router.get("/assets", include_in_schema=False)
def list_assets(request: Request, ctx: Ctx, user: CurrentUser, links: RequestLinks) -> list[dict[str, Any]]:
    query = read_query(request, LIST_FIELDS)
    with ctx.db.read() as session:
        assets = service.list_assets(
            session,
            user,
            offset=query["offset"],
            limit=query["limit"],
            media_type=query["mediaType"],
            email=query["email"],
            group_id=query["assetGroupId"],
            sha256=query["sha256"],
        )
        return [asset_json(asset, links) for asset in assets]


@router.get(
    "/assets/{asset_id}",
    summary="Get one asset.",
    response_model=None,
    responses=ok(ASSET) | errors(400, 401, 404),
)
def get_asset(asset_id: AssetRef, ctx: Ctx, user: CurrentUser, links: RequestLinks) -> dict[str, Any]:
    with ctx.db.read() as session:
        return asset_json(service.get_owned_asset(session, user, asset_id), links)


@router.delete(
    "/assets/{asset_id}",
    status_code=204,
    summary="Delete an asset and its files.",
    responses=ok(status=204, description="Deleted.") | errors(400, 401, 404, 409),
)
def delete_asset(asset_id: AssetRef, ctx: Ctx, user: CurrentUser) -> Response:
    service.delete_asset(ctx, user, asset_id)
    return Response(status_code=204)
