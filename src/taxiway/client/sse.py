"""Server-Sent Events read line by line, as the HTML standard's EventSource reads them (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServerEvent:
    """One dispatched event: its data (lines joined by newlines), type and own id (None without one)."""

    data: str
    event: str = "message"
    id: str | None = None


class EventParser:
    """Feed it lines (without their line break); it answers each event when its blank line comes."""

    def __init__(self) -> None:
        self.last_id: str | None = None  # the id to resume after (Last-Event-ID)
        self.retry_ms: int | None = None
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, line: str) -> ServerEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment: heartbeats
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> ServerEvent | None:
        data, event, own_id = self._data, self._event, self._id
        self._data, self._event, self._id = [], "", None
        if not data:
            return None
        return ServerEvent("\n".join(data), event or "message", own_id)
