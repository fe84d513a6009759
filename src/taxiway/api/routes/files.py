"""Downloads through expiring signed links: they work without the bearer token, until they expire.

Only the local blob backend is served here; an S3 store hands out presigned links of its own.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from taxiway.api.deps import Ctx
from taxiway.api.openapi import errors, ok
from taxiway.blobs.local import LocalBlobStore
from taxiway.core.errors import ApiError, NotFound
from taxiway.media.formats import content_type_of

router = APIRouter(tags=["files"])


@router.get(
    "/files/{key:path}",
    summary="Download an asset file (signed link).",
    response_class=FileResponse,
    responses=ok(
        {"type": "string", "format": "binary"},
        description="The file.",
        media_types=("video/*", "image/*", "application/octet-stream"),
    )
    | errors(400, 403, 404, meaning={404: "No such file, or files are kept in object storage."}),
)
@router.head("/files/{key:path}", include_in_schema=False)
def download(key: str, ctx: Ctx, expires: str = "", signature: str = "") -> FileResponse:
    blobs = ctx.blobs
    if not isinstance(blobs, LocalBlobStore):
        raise NotFound("This server keeps files in object storage; use the url of the asset or task instead.")
    if not ctx.signer.verify(key, expires, signature):
        raise ApiError(403, "This link is invalid or has expired; get a fresh one from the asset or task")
    try:
        path = blobs.path(key)
    except ValueError:
        raise NotFound() from None
    if not path.is_file():
        raise NotFound("The file no longer exists (its asset was deleted).")
    media_type = content_type_of(path.name)
    return FileResponse(path, media_type=media_type)
