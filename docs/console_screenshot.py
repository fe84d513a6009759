"""Make docs/console.png: the console of a fresh `taxiway serve`, with a restyled sample clip in the
wipe comparison and an upscale running beside it.

    python docs/console_screenshot.py            # needs the test extra (playwright) and Debian's chromium
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

OUT = Path(__file__).parent / "console.png"
CHROMIUM = os.environ.get("TAXIWAY_TEST_CHROMIUM", "/usr/bin/chromium")
TAXIWAY = [sys.executable, "-m", "taxiway.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(api: httpx.Client, task_id: str, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        task = api.get(f"/tasks/{task_id}").json()
        if done(task):
            return task
        assert task["status"] not in ("FAILED", "CANCELLED"), task
        time.sleep(0.2)
    raise TimeoutError(task_id)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        env = os.environ | {"TAXIWAY_DATA_DIR": str(data / "data"), "TAXIWAY_X264_PRESET": "ultrafast"}
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        subprocess.run([*TAXIWAY, "sample", str(data / "holiday.mp4"), "--seconds", "4"], check=True, env=env)
        create_user = [*TAXIWAY, "admin", "user", "create", "alice"]
        token = subprocess.run(
            create_user, check=True, env=env, capture_output=True, text=True
        ).stdout.strip()
        serve = [*TAXIWAY, "serve", "--port", str(port)]
        with open(data / "serve.log", "wb") as log:
            server = subprocess.Popen(serve, env=env, stdout=log, stderr=log)
        try:
            while True:
                try:
                    if httpx.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            api = httpx.Client(base_url=f"{base}/v1/runwayml", headers={"Authorization": f"Bearer {token}"})
            api.post("/accounts/alice@example.com", json={"email": "alice@example.com", "maxJobs": 5})
            asset = api.post(
                "/assets/?name=holiday.mp4",
                content=(data / "holiday.mp4").read_bytes(),
                headers={"Content-Type": "video/mp4"},
            ).json()["assetId"]
            restyle = api.post(
                "/gen3turbo/video", json={"assetId": asset, "text_prompt": "film noir", "seconds": 5}
            ).json()["taskId"]
            wait_for(api, restyle, lambda task: task["status"] == "SUCCEEDED")

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(base + "/")
                page.get_by_label("API token").fill(token)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("radio", name="Wipe").click()
                page.get_by_role("slider", name="Wipe position").fill("45")
                page.get_by_role("combobox", name="Operation").select_option(label="Video to video")
                page.get_by_role("textbox", name="Prompt").fill("film noir")
                upscale = api.post("/videos/upscale", json={"videoAssetId": asset}).json()["taskId"]
                wait_for(api, upscale, lambda task: float(task["progressRatio"] or 0) > 0.3)
                page.get_by_text("left").first.wait_for()
                page.evaluate("document.querySelectorAll('video').forEach((v) => { v.currentTime = 2; })")
                time.sleep(1)
                page.screenshot(path=str(OUT))
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    print(OUT)


if __name__ == "__main__":
    main()
