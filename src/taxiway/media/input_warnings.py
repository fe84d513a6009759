"""What was wrong with an input and how it was handled, told to the user (``options.input_warnings``).

Media code reports a problem under a key (one entry per kind of problem: damaged data, a missing
end, held gaps, ...) as soon as it is met, and may later replace that entry with a summary. The
owner (the worker) shows each new message as the task's progress text and stores the final list.
"""

from __future__ import annotations

from collections.abc import Callable


class InputWarnings:
    """An ordered set of warnings, one per key; ``on_change(message)`` hears each new message."""

    def __init__(self, on_change: Callable[[str], None] | None = None) -> None:
        self._entries: dict[str, str] = {}
        self._on_change = on_change

    def warn(self, key: str, message: str) -> None:
        """Add the warning for ``key``, or replace it (keeping its place in the list)."""
        if self._entries.get(key) == message:
            return
        self._entries[key] = message
        if self._on_change is not None:
            self._on_change(message)

    @property
    def messages(self) -> list[str]:
        return list(self._entries.values())

    def __bool__(self) -> bool:
        return bool(self._entries)
