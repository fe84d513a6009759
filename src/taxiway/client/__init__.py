"""A typed Python client for the Runway (useapi.net) contract that taxiway serves.

    from taxiway.client import Client

    with Client("http://127.0.0.1:8000", token) as client:
        asset = client.upload("holiday.mp4")
        task = client.wait(client.upscale(asset))
        client.download(task, "holiday-4k.mp4")

AsyncClient has the same methods, awaited.
"""

from taxiway.client.aio import AsyncClient
from taxiway.client.callbacks import InvalidSignature, verify_callback
from taxiway.client.errors import (
    ApiError,
    BadRequest,
    Busy,
    Conflict,
    ConnectionFailed,
    InsufficientCredits,
    NotFound,
    ServerError,
    TaskCancelled,
    TaskError,
    TaskFailed,
    TaxiwayError,
    Timeout,
    Unauthorized,
)
from taxiway.client.flows import BusyWait, Policy
from taxiway.client.models import (
    Account,
    Artifact,
    Asset,
    Credits,
    EngineInfo,
    Engines,
    Features,
    MediaInfo,
    Task,
)
from taxiway.client.sync import Client

__all__ = [
    "Account",
    "ApiError",
    "Artifact",
    "Asset",
    "AsyncClient",
    "BadRequest",
    "Busy",
    "BusyWait",
    "Client",
    "Conflict",
    "ConnectionFailed",
    "Credits",
    "EngineInfo",
    "Engines",
    "Features",
    "InsufficientCredits",
    "InvalidSignature",
    "MediaInfo",
    "NotFound",
    "Policy",
    "ServerError",
    "Task",
    "TaskCancelled",
    "TaskError",
    "TaskFailed",
    "TaxiwayError",
    "Timeout",
    "Unauthorized",
    "verify_callback",
]
