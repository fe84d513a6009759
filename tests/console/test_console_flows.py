"""The console's flows in a real browser against a real server: sign in, upload, every operation
to SUCCEEDED, live progress, the result playing, compare, chain, cancel, errors, a phone's width.

Every control is found by its role and accessible name; every page's console must stay free of
errors, but for the refusals a test provokes (see ConsolePage.expect_refusal)."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Outside CI a missing playwright skips this file, saying why (conftest.py: CI fails instead).
pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")

from playwright.sync_api import Locator, expect

from console_page import ConsolePage, artifact_path, select_containing
from mediafiles import make_image, make_video
from support import Api, Server, free_port, settings_for_test
from taxiway.accounts.service import set_plan

OPERATIONS = (
    ("Upscale to 4K", {}),
    ("Upscale to 4K (Gen-3 Alpha)", {}),
    ("Video to video", {"Prompt": "film noir", "Seconds": "5"}),
    ("Expand", {"Aspect ratio": "portrait"}),
    ("Extend (Gen-3)", {"Seconds": "5"}),
    ("Extend (Gen-3 Turbo)", {}),
)


@pytest.fixture(scope="module")
def tiny_clip(media_dir: Path) -> Path:
    """One second of 64×48 at 12 fps with sound: every operation finishes it in about a second."""
    return make_video(media_dir / "tiny.mp4", width=64, height=48, seconds=1.0, fps=12, audio=True)


@pytest.fixture(scope="module")
def guide(media_dir: Path) -> Path:
    return make_image(media_dir / "guide.png", width=64, height=48)


def assert_plays(video: Locator, timeout: float = 20) -> None:
    """The video decodes and its clock moves (Debian's Chromium plays H.264)."""
    expect(video).to_be_visible()
    node = video.element_handle()
    node.evaluate(
        "node => { node.muted = true; node.play().catch((e) => (node.dataset.refused = String(e))); }"
    )
    deadline = time.monotonic() + timeout
    state: dict[str, object] = {}
    while time.monotonic() < deadline:
        state = node.evaluate(
            "node => ({ready: node.readyState, time: node.currentTime, refused: node.dataset.refused,"
            " error: node.error && node.error.message, paused: node.paused, connected: node.isConnected,"
            " src: node.currentSrc.split('?')[0]})"
        )
        if state["error"] or state["refused"]:
            break
        if int(state["ready"]) >= 2 and float(state["time"]) > 0.1:  # type: ignore[call-overload]
            return
        time.sleep(0.1)
    raise AssertionError(f"the video did not play: {state}")


def test_a_wrong_token_is_refused_in_the_servers_words_and_the_right_one_signs_in(
    make_page: Callable[..., ConsolePage], user: Api
) -> None:
    console = make_page()
    console.expect_refusal(401)
    console.open()
    console.page.get_by_label("API token").fill("twy_not-a-token")
    console.page.get_by_role("button", name="Sign in").click()
    expect(console.page.get_by_role("alert").filter(has_text="Unauthorized")).to_be_visible()
    expect(console.page.get_by_role("heading", name="Run an operation")).to_be_hidden()

    console.sign_in(user.token)
    account = console.page.get_by_role("region", name="Accounts").get_by_role("listitem")
    expect(account).to_contain_text("1000 of 1000 credits left")
    expect(account).to_contain_text("plan unlimited")
    expect(account).to_contain_text("maxJobs 5")
    # The token stays in this tab's sessionStorage, never in a URL; a reload keeps the session.
    assert user.token not in console.page.url
    assert console.page.evaluate("sessionStorage.getItem('taxiway.token')") == user.token
    console.page.reload()
    expect(console.page.get_by_role("heading", name="Run an operation")).to_be_visible()
    console.page.get_by_role("button", name="Sign out").click()
    expect(console.page.get_by_label("API token")).to_be_visible()
    assert console.page.evaluate("sessionStorage.getItem('taxiway.token')") is None


def test_a_user_without_accounts_is_told_so_and_makes_one(
    make_page: Callable[..., ConsolePage], console_server: Server, tiny_clip: Path
) -> None:
    api = console_server.new_user()
    console = make_page().sign_in(api.token)
    accounts = console.page.get_by_role("region", name="Accounts")
    expect(accounts).to_contain_text("No account yet")
    # Nothing fails silently: an upload before any account says what the server says.
    console.expect_refusal(400)
    console.page.get_by_label("Choose file").set_input_files(str(tiny_clip))
    expect(console.page.get_by_role("alert").filter(has_text="tiny.mp4: ")).to_contain_text("account")

    accounts.get_by_text("New account").click()
    accounts.get_by_role("textbox", name="Email").fill("new@example.com")
    accounts.get_by_role("spinbutton", name="Max jobs").fill("3")
    accounts.get_by_role("button", name="Create account").click()
    expect(accounts.get_by_role("listitem")).to_contain_text("new@example.com")
    expect(accounts.get_by_role("listitem")).to_contain_text("maxJobs 3")
    expect(accounts.get_by_text("No account yet")).to_be_hidden()
    console.upload(tiny_clip)
    # A refused account is said in the server's words too.
    accounts.get_by_role("spinbutton", name="Max jobs").fill("11")
    accounts.get_by_role("textbox", name="Email").fill("other@example.com")
    accounts.get_by_role("button", name="Create account").click()
    expect(accounts.get_by_role("alert")).to_contain_text("maxJobs 11 is out of range; valid range: 1…10")


def test_upload_by_drop_with_progress_library_metadata_thumbnail_and_delete(
    make_page: Callable[..., ConsolePage], user: Api, tiny_clip: Path, tmp_path: Path
) -> None:
    console = make_page().sign_in(user.token)
    drop = console.page.get_by_role("button", name="Drop a video or image here, or choose a file")
    data = base64.b64encode(tiny_clip.read_bytes()).decode()
    transfer = console.page.evaluate_handle(
        """([data, name]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type: "video/mp4" }));
            return transfer;
        }""",
        [data, "dropped.mp4"],
    )
    drop.dispatch_event("dragover", {"dataTransfer": transfer})
    drop.dispatch_event("drop", {"dataTransfer": transfer})
    expect(console.page.get_by_role("status").filter(has_text="Uploaded dropped.mp4")).to_be_visible()
    bar = console.page.get_by_role("progressbar", name="Upload progress")
    expect(bar).to_have_attribute("value", "1")

    # On a slow link the bar moves as the bytes go (uploads throttled to 100 kB/s: a 300 kB file).
    network = console.page.context.new_cdp_session(console.page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 100_000},
    )
    big = make_video(tmp_path / "bigger.mp4", width=320, height=240, seconds=2.0, fps=24)
    assert big.stat().st_size > 200_000
    console.page.get_by_label("Choose file").set_input_files(str(big))
    console.page.wait_for_function("bar => bar.value > 0.2 && bar.value < 0.9", arg=bar.element_handle())
    expect(console.page.get_by_role("status")).to_contain_text(re.compile(r"Uploading bigger\.mp4: \d+%"))
    expect(console.page.get_by_role("status").filter(has_text="Uploaded bigger.mp4")).to_be_visible()
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    asset = console.asset("dropped.mp4")
    expect(asset).to_contain_text("64×48 · 1 s · 12 fps")
    expect(asset).to_contain_text("KB")
    thumbnail = asset.get_by_role("img", name="Thumbnail of dropped.mp4")
    expect(thumbnail).to_be_visible()
    console.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )

    # What the server refuses is said in its words: a file that is not media.
    console.expect_refusal(400)
    bogus = tmp_path / "notes.mp4"
    bogus.write_bytes(b"not a video at all" * 100)
    console.page.get_by_label("Choose file").set_input_files(str(bogus))
    expect(console.page.get_by_role("alert").filter(has_text="notes.mp4: ")).to_contain_text("video")

    asset.get_by_role("button", name="Delete dropped.mp4").click()
    expect(asset).to_have_count(0)
    assert [asset["name"] for asset in user.http.get("/assets/").json()] == ["bigger.mp4"]


def test_every_operation_runs_to_succeeded_and_its_result_plays(
    make_page: Callable[..., ConsolePage], user: Api, tiny_clip: Path, guide: Path
) -> None:
    console = make_page().sign_in(user.token)
    console.upload(tiny_clip)
    console.upload(guide)
    # The model picker comes from GET engines: a model whose weights are missing cannot be picked.
    form = console.choose_operation("Upscale to 4K")
    missing = form.get_by_role("combobox", name="Model").get_by_role("option", name=re.compile("x4plus"))
    expect(missing).to_be_disabled()
    expect(missing).to_contain_text("missing weights")
    for title, fields in OPERATIONS:
        form = console.choose_operation(title)
        if title == "Expand":
            select_containing(form.get_by_role("combobox", name="Guiding image"), guide.name)
        task = console.run(title, fields, video=tiny_clip.name)
        expect(task).to_have_attribute("aria-label", re.compile(f"^{re.escape(title.split(' (')[0])}"))
        console.wait_status(task, "SUCCEEDED")
        assert_plays(task.get_by_label("Result video"))
    tasks = user.http.get("/tasks/").json()
    assert sorted(task["status"] for task in tasks) == ["SUCCEEDED"] * len(OPERATIONS)
    assert {
        task["options"]["outpaint_aspect_ratio"]
        for task in tasks
        if "outpaint_aspect_ratio" in task["options"]
    } == {"3:5"}


def test_a_running_task_shows_progress_eta_and_a_live_preview_then_its_result(
    make_page: Callable[..., ConsolePage], user: Api, slow_clip: Path
) -> None:
    console = make_page().sign_in(user.token)
    console.upload(slow_clip)
    task = console.run("Upscale to 4K", video=slow_clip.name)
    console.wait_status(task, "RUNNING", timeout=30_000)
    progress = task.get_by_role("progressbar", name=f"Progress of Upscaled {slow_clip.name}")
    console.page.wait_for_function("bar => bar.value > 0 && bar.value < 1", arg=progress.element_handle())
    expect(task).to_contain_text(re.compile(r"\d+% · about \d+(\.\d)? s left"))
    preview = task.get_by_role("img", name=f"Live preview of Upscaled {slow_clip.name}")
    expect(preview).to_be_visible()
    console.page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    console.page.screenshot(path=str(artifact_path("running-task.png")))
    console.wait_status(task, "SUCCEEDED")
    expect(preview).to_be_hidden()
    expect(task.get_by_role("button", name=re.compile("^Cancel"))).to_be_hidden()
    assert_plays(task.get_by_label("Result video"))


def test_compare_side_by_side_and_wipe_play_in_step_and_download(
    make_page: Callable[..., ConsolePage], user: Api, tiny_clip: Path
) -> None:
    console = make_page().sign_in(user.token)
    console.upload(tiny_clip)
    task = console.run("Extend (Gen-3)", {"Seconds": "10"}, video=tiny_clip.name)
    console.wait_status(task, "SUCCEEDED")
    view = task.get_by_role("radiogroup", name=re.compile("^View of"))
    view.get_by_role("radio", name="Side by side").click()
    expect(view.get_by_role("radio", name="Side by side")).to_have_attribute("aria-checked", "true")
    before, after = task.get_by_label("Input video"), task.get_by_label("Result video")
    task.get_by_role("button", name="Play both").click()
    in_step = """([a, b]) => !a.paused && !b.paused && a.currentTime > 0.5
        && Math.abs(a.currentTime - b.currentTime) < 0.25"""
    console.page.wait_for_function(in_step, arg=[before.element_handle(), after.element_handle()])
    task.get_by_role("button", name="Pause both").click()
    console.page.wait_for_function(
        "([a, b]) => a.paused && b.paused", arg=[before.element_handle(), after.element_handle()]
    )

    # The wipe: by keyboard, as the radio group and the slider take arrow keys.
    view.get_by_role("radio", name="Side by side").focus()
    console.page.keyboard.press("ArrowRight")
    expect(view.get_by_role("radio", name="Wipe")).to_have_attribute("aria-checked", "true")
    wipe = task.get_by_role("slider", name="Wipe position")
    wipe.focus()
    for _ in range(20):
        console.page.keyboard.press("ArrowLeft")
    frame = task.locator(".wipe")
    assert frame.evaluate("node => node.style.getPropertyValue('--wipe')") == "30%"
    clip = task.get_by_label("Result video").evaluate("node => getComputedStyle(node).clipPath")
    assert clip == "inset(0px 0px 0px 30%)"
    task.get_by_role("button", name="Play both").click()
    before, after = task.get_by_label("Input video"), task.get_by_label("Result video")
    console.page.wait_for_function(in_step, arg=[before.element_handle(), after.element_handle()])

    with console.page.expect_download() as download:
        task.get_by_role("link", name=re.compile("^Download ")).click()
    assert download.value.suggested_filename == "tiny extended by 10s.mp4"
    assert Path(download.value.path()).read_bytes()[4:8] == b"ftyp"


def use_result(task: Locator) -> str:
    """Press the task's "use as input"; the name of the asset it chose."""
    use = task.get_by_role("button", name=re.compile(r"^Use .* as input$"))
    name = re.sub(r"^Use (.*) as input$", r"\1", use.get_attribute("aria-label") or "")
    use.click()
    expect(task.page.get_by_role("combobox", name="Operation")).to_be_focused()
    return name


def run_on_chosen_input(console: ConsolePage, title: str, chosen: str) -> Locator:
    """Run an operation on the input "use as input" chose (it stays chosen across operations)."""
    form = console.choose_operation(title)
    video = form.get_by_role("combobox", name="Video", exact=True)
    expect(video).to_contain_text(chosen)
    assert video.evaluate("node => node.selectedOptions[0].textContent").startswith(f"{chosen} (")
    task = console.submit(form)
    console.wait_status(task, "SUCCEEDED")
    return task


def test_chain_upscale_the_restyled_video_and_extend_it_twice(
    make_page: Callable[..., ConsolePage], user: Api, tiny_clip: Path
) -> None:
    console = make_page().sign_in(user.token)
    console.upload(tiny_clip)
    restyle = console.run("Video to video", {"Prompt": "sepia", "Seconds": "5"}, video=tiny_clip.name)
    console.wait_status(restyle, "SUCCEEDED")

    restyled = use_result(restyle)
    upscale = run_on_chosen_input(console, "Upscale to 4K", restyled)
    expect(upscale).to_have_attribute("aria-label", f"Upscale to 4K: Upscaled {restyled}")
    assert_plays(upscale.get_by_label("Result video"))

    restyled = use_result(restyle)
    extend = run_on_chosen_input(console, "Extend (Gen-3)", restyled)
    expect(extend).to_have_attribute("aria-label", f"Extend: {restyled} extended by 5s")
    extended = use_result(extend)
    assert extended == f"{restyled.removesuffix('.mp4')} extended by 5s.mp4"
    again = run_on_chosen_input(console, "Extend (Gen-3)", extended)
    expect(again).to_contain_text("12 fps")
    task = user.task(again.get_attribute("data-task-id") or "")
    assert task["options"]["extended_count"] == 2
    assert task["artifacts"][0]["metadata"]["duration"] == 11


def test_a_waiting_task_shows_its_place_in_the_queue_and_tasks_cancel_then_delete(
    make_page: Callable[..., ConsolePage], user: Api, slow_clip: Path
) -> None:
    console = make_page().sign_in(user.token)
    console.upload(slow_clip)
    # Two worker slots: the third and fourth tasks wait their turn.
    running = [console.run("Upscale to 4K (Gen-3 Alpha)", video=slow_clip.name) for _ in range(2)]
    first, second = (console.run("Upscale to 4K (Gen-3 Alpha)", video=slow_clip.name) for _ in range(2))
    expect(second.get_by_role("status")).to_have_text(re.compile("^(PENDING|THROTTLED)$"))
    expect(second).to_contain_text("2nd in the queue")
    expect(first).to_contain_text("1st in the queue")
    # While it waits its bar shows no amount (indeterminate), and the server's estimate of its start.
    assert second.get_by_role("progressbar").get_attribute("value") is None
    waits = r"(1st|2nd) in the queue · starts in about (\d+ min( \d+ s)?|\d+ s) · every worker is busy"
    expect(second).to_contain_text(re.compile(waits))
    for waiting in (second, first):
        waiting.get_by_role("button", name=re.compile("^Cancel ")).click()
        console.wait_status(waiting, "CANCELLED", timeout=10_000)

    task = running[0]
    console.wait_status(task, "RUNNING", timeout=30_000)
    for each in running:
        each.get_by_role("button", name=re.compile("^Cancel ")).click()
        console.wait_status(each, "CANCELLED", timeout=10_000)
    expect(task).to_contain_text("Cancelled; its credits were refunded.")
    expect(task.get_by_role("button", name=re.compile("^Cancel "))).to_be_hidden()
    account = console.page.get_by_role("region", name="Accounts").get_by_role("listitem")
    expect(account).to_contain_text("1000 of 1000 credits left")

    toggle = task.get_by_role("button", name=re.compile("^Task JSON"))
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    json_text = task.get_by_label(re.compile("^JSON of")).inner_text()
    assert '"status": "CANCELLED"' in json_text
    task_id = task.get_attribute("data-task-id")
    assert f'"taskId": "{task_id}"' in json_text

    task.get_by_role("button", name=re.compile("^Delete task ")).click()
    expect(console.page.locator(f'article[data-task-id="{task_id}"]')).to_have_count(0)
    assert user.http.get(f"/tasks/{task_id}").status_code == 404


def test_server_refusals_are_shown_beside_the_field_or_the_form_in_its_words(
    make_page: Callable[..., ConsolePage], console_server: Server, tiny_clip: Path, slow_clip: Path
) -> None:
    api = console_server.new_user()
    email = "standard@example.com"
    api.create_account(email=email, max_jobs=1)
    set_plan(console_server.ctx.db, email, "standard")
    console = make_page().sign_in(api.token)
    for status in (400, 409, 412, 429):
        console.expect_refusal(status)
    console.upload(slow_clip)
    console.upload(tiny_clip)

    # 400: beside the fields it names, in the server's words, and the whole message by the form.
    form = console.choose_operation("Extend (Gen-3)")
    console.run("Extend (Gen-3)", {"Seed": "0", "Prompt": "x" * 1001}, video=tiny_clip.name)
    seed = form.get_by_role("spinbutton", name="Seed")
    expect(seed).to_have_attribute("aria-invalid", "true")
    seed_error = form.locator('[data-field="seed"] .field-error')
    expect(seed_error).to_have_text("seed 0 is out of range; valid range: 1…4294967294")
    prompt_error = form.locator('[data-field="text_prompt"] .field-error')
    expect(prompt_error).to_have_text("text_prompt is 1001 characters long; at most 1000 characters")
    expect(seed).to_have_accessible_description(re.compile("seed 0 is out of range"))
    expect(form.get_by_role("alert")).to_contain_text("seed 0 is out of range")
    form.screenshot(path=str(artifact_path("field-errors.png")))

    # 412: exploreMode on a standard plan.
    console.run("Extend (Gen-3)", {"Seed": "1", "Prompt": "", "Explore mode": "true"}, video=tiny_clip.name)
    expect(form.get_by_role("alert")).to_contain_text(
        f"exploreMode is free only on the unlimited plan, and account {email} is on the standard plan."
    )
    expect(seed).not_to_have_attribute("aria-invalid", "true")

    # 429: maxJobs 1 while a task runs; 409: deleting the input of a live task.
    form = console.choose_operation("Upscale to 4K")
    running = console.run("Upscale to 4K", video=slow_clip.name)
    expect(running.get_by_role("status")).to_have_text(re.compile("PENDING|RUNNING"))
    console.run("Upscale to 4K", video=tiny_clip.name)
    expect(form.get_by_role("alert")).to_contain_text(
        re.compile(f"Account {email} is busy executing 1 tasks")
    )
    slow_asset = console.asset(slow_clip.name)
    slow_asset.get_by_role("button", name=f"Delete {slow_clip.name}").click()
    expect(slow_asset.get_by_role("alert")).to_contain_text(re.compile("live task|in use", re.IGNORECASE))
    console.wait_status(running, "SUCCEEDED")


def test_a_phone_width_needs_no_horizontal_scrolling_and_works_by_keyboard(
    make_page: Callable[..., ConsolePage], user: Api, tiny_clip: Path
) -> None:
    console = make_page(width=375, height=812)
    console.open()
    # Sign in by keyboard alone: the token field has focus, Enter submits.
    expect(console.page.get_by_label("API token")).to_be_focused()
    console.page.keyboard.type(user.token)
    console.page.keyboard.press("Enter")
    expect(console.page.get_by_role("heading", name="Run an operation")).to_be_visible()
    # The drop zone is a button: Enter and Space open the file picker (seen as the picker's click;
    # the dialog itself is the browser's).
    picker = console.page.get_by_label("Choose file")
    picker.evaluate(
        "node => node.addEventListener('click', (event) => {"
        " event.preventDefault(); node.dataset.opened = String(Number(node.dataset.opened || 0) + 1); })"
    )
    console.page.get_by_role("button", name="Drop a video or image here, or choose a file").focus()
    console.page.keyboard.press("Enter")
    console.page.keyboard.press(" ")
    expect(picker).to_have_attribute("data-opened", "2")
    console.upload(tiny_clip)
    task = console.run("Expand", {"Aspect ratio": "portrait"}, video=tiny_clip.name)
    console.wait_status(task, "SUCCEEDED")
    task.get_by_role("radio", name="Wipe").click()
    console.wait_status(console.run("Upscale to 4K", video=tiny_clip.name), "SUCCEEDED")
    overflow = console.page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px of horizontal scrolling at 375 px"

    # Tab reaches every kind of control, each with an accessible name.
    reached: list[str] = []
    for _ in range(80):
        console.page.keyboard.press("Tab")
        reached.append(
            console.page.evaluate(
                """() => {
                    const node = document.activeElement;
                    const label = node.labels && node.labels[0] ? node.labels[0].textContent : "";
                    const name = node.getAttribute("aria-label") || label || node.textContent;
                    return `${node.tagName}:${name}`.trim();
                }"""
            )
        )
    text = "\n".join(reached)
    for name in ("Operation", "Video", "Drop a video", "Wipe", "Download", "Task JSON", "Run "):
        assert name in text, f"Tab never reached {name!r}:\n{text}"


def test_the_live_stream_comes_back_after_its_server_restarts_with_what_it_missed(
    browser: Any, tmp_path: Path, tiny_clip: Path
) -> None:
    """The server the console talks to goes away; meanwhile a task changes through another server
    of the same database. When it is back, the browser's own reconnect (on the old link, expired
    by then) is refused, and the console opens a fresh link from its last event id."""
    settings = settings_for_test(tmp_path / "data", port=free_port(), workers=0, event_link_ttl_seconds=1)
    first = Server(settings).start()
    other = Server(settings.model_copy(update={"port": free_port()})).start()
    api = first.new_user()
    api.create_account()
    asset = api.upload(tiny_clip, "video/mp4")["assetId"]
    context = browser.new_context()
    console = ConsolePage(context.new_page(), first.base_url)
    streams: list[int] = []
    console.page.on(
        "response", lambda answer: "/v1/runwayml/events?" in answer.url and streams.append(answer.status)
    )
    try:
        console.sign_in(api.token)
        task_id = api.create("gen3/extend", {"assetId": asset}).json()["taskId"]
        task = console.task(task_id)
        console.wait_status(task, "PENDING")  # no workers: it waits
        first.stop()
        expect(console.page.get_by_role("alert").filter(has_text="reconnecting")).to_be_visible()
        later = Api(other.base_url, api.token)
        assert later.http.delete(f"/tasks/{task_id}").json()["status"] == "CANCELLED"
        time.sleep(1.5)  # the stream's link has expired
        first = Server(settings).start()
        try:
            console.wait_status(task, "CANCELLED", timeout=20_000)
        except AssertionError:
            raise AssertionError(f"streams {streams}, console {console.errors}") from None
        expect(console.page.get_by_role("alert").filter(has_text="reconnecting")).to_be_hidden()
        assert streams[0] == 200 and streams[-1] == 200 and 403 in streams, streams
        console.allowed_statuses.add(403)
        assert not [
            error for error in console.unexpected_errors() if "ERR_CONNECTION_REFUSED" not in error
        ], console.errors
        console.page.screenshot(path=str(artifact_path("stream-back.png")))
    finally:
        context.close()
        first.stop()
        other.stop()
