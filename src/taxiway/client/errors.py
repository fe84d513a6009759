"""The client's typed errors: one class per way a call or a task can go wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from taxiway.client.models import Task


class TaxiwayError(Exception):
    """Base of every error the client raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiError(TaxiwayError):
    """The server answered with an error status; `body` is its decoded JSON (or {})."""

    status: int = 0

    def __init__(self, message: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class BadRequest(ApiError):
    """400: a field is missing, malformed or out of range (the message says which)."""


class Unauthorized(ApiError):
    """401: the API token is missing, wrong or revoked."""


class NotFound(ApiError):
    """404: no such task, asset or account (or it is not yours)."""


class Conflict(ApiError):
    """409: the thing is in use (an asset a live task reads, an account with live tasks)."""


class InsufficientCredits(ApiError):
    """412: the account lacks the credits the task would cost."""


class Busy(ApiError):
    """429: the account already runs maxJobs tasks; `running_tasks` lists them by account email."""

    @property
    def running_tasks(self) -> dict[str, list[dict[str, Any]]]:
        running = self.body.get("runningTasks")
        return running if isinstance(running, dict) else {}


class ServerError(ApiError):
    """5xx after the client's retries ran out."""


class ConnectionFailed(TaxiwayError):
    """The server could not be reached (after the client's retries)."""


class TaskError(TaxiwayError):
    """A task ended without succeeding; `task` is its last state."""

    def __init__(self, message: str, task: Task) -> None:
        super().__init__(message)
        self.task = task


class TaskFailed(TaskError):
    """The task reached FAILED; the message is the server's reason."""


class TaskCancelled(TaskError):
    """The task reached CANCELLED."""


class Timeout(TaskError):
    """wait() gave up before the task finished; the task itself goes on running."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Unauthorized,
    404: NotFound,
    409: Conflict,
    412: InsufficientCredits,
    429: Busy,
}


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for an error response, with the server's own message when it sent one."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get("error") or body.get("message") or response.reason_phrase or "error"
    if not isinstance(message, str):
        message = str(message)
    status = response.status_code
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    return kind(message, status, body)
