"""Figures from the fault tests (tasks created, faults injected, tasks lost, duplicates), printed
at the end of the run by the terminal-summary hook in conftest.py.

A test records its figures here; conftest.py moves them into the test's report
(``user_properties``), which pytest-xdist carries from its workers to the process that prints the
summary, so the figures are printed whether or not the suite runs in parallel.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PROPERTY = "fault_figures"
PENDING: list[tuple[str, dict[str, int]]] = []  # recorded by the running test, not yet reported


def record(scenario: str, **figures: int) -> None:
    PENDING.append((scenario, figures))


def take() -> list[tuple[str, dict[str, int]]]:
    """What the test that just ran recorded (and forget it)."""
    taken = list(PENDING)
    PENDING.clear()
    return taken


def summary_lines(reports: Iterable[Any]) -> list[str]:
    """One line per recorded scenario, from the reports' user_properties."""
    lines = []
    for report in reports:
        for name, value in getattr(report, "user_properties", ()):
            if name == PROPERTY:
                scenario, figures = value
                lines.append(f"{scenario}: " + ", ".join(f"{key} {count}" for key, count in figures.items()))
    return lines
