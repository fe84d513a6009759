"""Figures from the fault tests (tasks created, faults injected, tasks lost, duplicates), printed
at the end of the run by the terminal-summary hook in conftest.py."""

from __future__ import annotations

FIGURES: list[tuple[str, dict[str, int]]] = []


def record(scenario: str, **figures: int) -> None:
    FIGURES.append((scenario, figures))


def summary_lines() -> list[str]:
    return [f"{scenario}: " + ", ".join(f"{name} {value}" for name, value in figures.items())
            for scenario, figures in FIGURES]  # fmt: skip
