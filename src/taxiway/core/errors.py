"""Errors a user can cause, carried to the HTTP layer as the contract's {"error", "code"} body."""

from __future__ import annotations

from typing import Any

RETRY_AFTER_SECONDS = 10


class ApiError(Exception):
    """An error with a status code and a message meant for the API caller."""

    headers: dict[str, str] = {}  # noqa: RUF012  # read-only: response headers for this error

    def __init__(self, status: int, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra, "code": self.status}


class BadRequest(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class Unauthorized(ApiError):
    def __init__(self) -> None:
        super().__init__(401, "Unauthorized")


class NotFound(ApiError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(404, message)


class Conflict(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(409, message)


class InsufficientCredits(ApiError):
    MESSAGE = "You do not have enough credits to run this task."

    def __init__(self, message: str = MESSAGE, **extra: Any) -> None:
        super().__init__(412, message, extra)


class AccountBusy(ApiError):
    """429: the account already runs maxJobs tasks. `running` lists them as the contract shows."""

    # The contract advises waiting at least 10 s before retrying.
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}  # noqa: RUF012

    def __init__(self, email: str, max_jobs: int, running: list[dict[str, Any]]) -> None:
        super().__init__(
            429,
            f"Account {email} is busy executing {max_jobs} tasks",
            {"runningTasks": {email: running}},
        )
