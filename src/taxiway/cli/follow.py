"""Follow a task to its end with a live progress bar on stderr; Ctrl-C cancels it on the server.

Client.wait follows the task's event stream where the server has one (every change shows at once)
and polls where it does not."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn

from taxiway.cli.remote import EXIT_INTERRUPTED, err
from taxiway.client import BusyWait, Client, Task, TaxiwayError
from taxiway.client.flows import RunClock

BAR_WIDTH = 20
# What the line spends before the progress text: spinner, status, bar, percent and the gaps.
_FIXED_WIDTH = 2 + 10 + BAR_WIDTH + 1 + 5


def describe(task: Task, eta: str = "", width: int | None = None) -> str:
    """The progress text, cut with "…" so that status, bar, percent and ETA before it always fit
    on one line of ``width`` (the terminal's)."""
    text = " ".join((task.progress_text or "").split())
    room = (width or err.width) - _FIXED_WIDTH - (len(eta) + 1 if eta else 0) - 1
    if len(text) > room:
        text = text[: max(room - 1, 0)].rstrip() + "…" if room > 0 else ""
    return escape(text)  # the server's words, not Rich markup


def _clock_text(seconds: float) -> str:
    seconds = round(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else (f"{seconds // 60}:{seconds % 60:02d}")
    )


def eta_text(task: Task, remaining: float | None) -> str:
    if task.status == "RUNNING" and remaining is not None:
        return f"ETA {_clock_text(remaining)}"
    if task.status not in ("PENDING", "THROTTLED"):
        return ""
    place = f"#{task.queue_position} in queue" if task.queue_position else ""
    starts = f"starts in ~{_clock_text(task.estimated_time_to_start)}" if task.estimated_time_to_start else ""
    return ", ".join(part for part in (place, starts) if part)


def report_busy(wait: BusyWait) -> None:
    running = sum(len(tasks) for tasks in wait.error.running_tasks.values())
    busy = f"{running} task(s) running" if running else "busy"
    err.print(
        f"[yellow]account busy[/yellow] ({busy}); trying again in {wait.delay_seconds:.0f} s (Ctrl-C stops)"
    )


def follow(client: Client, task: Task, *, timeout: float | None, cancel_on_interrupt: bool = True) -> Task:
    """The task's final state (raises TaskFailed, TaskCancelled or Timeout like Client.wait).

    Ctrl-C cancels the task when this command created it; a watcher (`tasks wait`) only stops watching.
    """
    clock = RunClock()
    # Fixed parts first, the server's (cut) text last: a long text never pushes percent or ETA off.
    columns = (
        SpinnerColumn(),
        TextColumn("{task.fields[status]:<9}"),
        BarColumn(bar_width=BAR_WIDTH),
        TaskProgressColumn(),
        TextColumn("{task.fields[eta]}"),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task(describe(task), total=1.0, status=task.status, eta="")

        def show(current: Task) -> None:
            eta = eta_text(current, clock.observe(current))
            progress.update(
                bar,
                completed=current.progress_ratio,
                description=describe(current, eta),
                status=current.status,
                eta=eta,
            )

        try:
            return client.wait(task, timeout=timeout, on_progress=show)
        except KeyboardInterrupt:
            progress.stop()
            if cancel_on_interrupt:
                cancel_after_interrupt(client, task)
            err.print(f"stopped waiting; task {task.task_id} goes on")
            raise typer.Exit(EXIT_INTERRUPTED) from None


def cancel_after_interrupt(client: Client, task: Task) -> NoReturn:
    """Ctrl-C while following: cancel the task on the server (its credits are refunded), exit 130."""
    err.print(f"interrupted: cancelling task {task.task_id}")
    try:
        state = client.cancel_task(task)
        err.print(f"task is {state.status}")
    except TaxiwayError as exc:
        err.print(f"[red]error:[/red] could not cancel the task: {escape(exc.message)}")
    raise typer.Exit(EXIT_INTERRUPTED)
