"""The console as a user sees it: controls found by their role and accessible name, as a screen
reader (and a keyboard user) finds them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect

# What Chromium logs for a request the server refused: expected where the test provoked it.
_REFUSED = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")
# A live preview still is kept only until the next but one (and not after its attempt ends), so a
# link read late answers 404, as the README says: the console hides it and waits for the next one.
_LIVE_STILL = re.compile(r"/v1/runwayml/files/artifacts/[^/]+/\d+/live/\d+\.jpg$")


def artifact_path(name: str) -> Path:
    """Where a screenshot goes: test-artifacts/console/ (gitignored), or under TAXIWAY_TEST_ARTIFACTS."""
    folder = Path(os.environ.get("TAXIWAY_TEST_ARTIFACTS", "test-artifacts")) / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def select_containing(select: Locator, name: str) -> None:
    """Choose the asset option named ``name`` (labels add the asset's size and length)."""
    expect(select).to_contain_text(name)
    labels = select.locator("option").all_inner_texts()
    matching = [label for label in labels if label.startswith(f"{name} (")]
    assert matching, f"no option for {name!r} among {labels}"
    select.select_option(label=matching[0])


class ConsolePage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.allowed_statuses: set[int] = set()
        page.on("console", lambda message: self._console(message))
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.set_default_timeout(30_000)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "assert"):
            url = (message.location or {}).get("url", "")
            self.errors.append(f"{message.text} [{url.split('?')[0]}]" if url else message.text)

    def expect_refusal(self, status: int) -> None:
        """The test provokes a refusal with this status: Chromium's log line for it is no error."""
        self.allowed_statuses.add(status)

    def unexpected_errors(self) -> list[str]:
        unexpected = []
        for text in self.errors:
            refused = _REFUSED.search(text)
            if refused and int(refused.group(1)) in self.allowed_statuses:
                continue
            if refused and refused.group(1) == "404" and _LIVE_STILL.search(text.rsplit(" [", 1)[-1][:-1]):
                continue
            unexpected.append(text)
        return unexpected

    # Pages and sign-in -------------------------------------------------------------------------

    def open(self) -> ConsolePage:
        self.page.goto(self.base_url + "/")
        expect(self.page).to_have_title("taxiway console")
        return self

    def sign_in(self, token: str) -> ConsolePage:
        self.open()
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Run an operation")).to_be_visible()
        return self

    # Uploads ------------------------------------------------------------------------------------

    def upload(self, path: Path) -> Locator:
        """Upload through the file picker; the library's entry for it."""
        self.page.get_by_label("Choose file").set_input_files(str(path))
        expect(self.page.get_by_role("status").filter(has_text=f"Uploaded {path.name}")).to_be_visible()
        return self.asset(path.name)

    def asset(self, name: str) -> Locator:
        return self.page.get_by_role("listitem", name=name, exact=True)

    # Operations ---------------------------------------------------------------------------------

    def choose_operation(self, title: str) -> Locator:
        self.page.get_by_label("Operation", exact=True).select_option(label=title)
        return self.page.get_by_role("form", name=title)

    def run(self, title: str, fields: dict[str, str] | None = None, video: str | None = None) -> Locator:
        """Fill in an operation's form and run it; the new task's card."""
        form = self.choose_operation(title)
        if video is not None:
            select_containing(form.get_by_role("combobox", name="Video", exact=True), video)
        for label, value in (fields or {}).items():
            control = form.get_by_label(label, exact=False).first
            if not control.is_visible():  # under "More options"
                form.locator("summary", has_text="More options").click()
            tag = control.evaluate("node => node.tagName")
            if tag == "SELECT":
                control.select_option(value)
            elif control.get_attribute("type") == "checkbox":
                control.set_checked(value == "true")
            else:
                control.fill(value)
        return self.submit(form)

    def submit(self, form: Locator) -> Locator:
        """Press the form's Run button; the card of the task it made (or of the newest task, when
        the server refused: then the form shows why)."""
        before = set(self.tasks().evaluate_all("cards => cards.map((card) => card.dataset.taskId)"))
        form.get_by_role("button", name=re.compile("^Run ")).click()
        expect(form.get_by_role("button", name=re.compile("^Run "))).to_be_enabled()  # answered
        after = self.tasks().evaluate_all("cards => cards.map((card) => card.dataset.taskId)")
        made = [task_id for task_id in after if task_id not in before]
        return self.task(made[0]) if made else self.tasks().first

    def task(self, task_id: str) -> Locator:
        return self.page.locator(f'article.task[data-task-id="{task_id}"]')

    # Tasks --------------------------------------------------------------------------------------

    def tasks(self) -> Locator:
        return self.page.locator("article.task")

    def wait_status(self, task: Locator, status: str, timeout: float = 90_000) -> None:
        expect(task.get_by_role("status")).to_have_text(status, timeout=timeout)
