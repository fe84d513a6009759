"""The contract's own examples (Python, curl and JavaScript, for all five endpoints) work against
taxiway by changing only the base URL, the token and the placeholder ids, on a server set up as
the README's walk-through says: nothing else (no plan, no credits) granted by hand."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import Api, Server

EXAMPLES = Path(__file__).parent.parent / "reference_examples"


def _fresh_user(server: Server, clip: Path) -> tuple[Api, str]:
    """The walk-through: a user and token, an account with maxJobs 5, one uploaded video."""
    api = server.new_user()
    api.create_account("examples@example.com", max_jobs=5)
    return api, api.upload(clip, "video/mp4", name="holiday.mp4")["assetId"]


def _check_created(api: Api, task: dict[str, object], example: str) -> None:
    assert task["status"] == "PENDING", (example, task)
    assert task["code"] == 200
    assert api.http.get("/scheduler/").json()[0]["taskId"] == task["taskId"]


def _run_python(source: str) -> str:
    ast.parse(source)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(source, "example.py", "exec"), {})
    return output.getvalue()


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_python_example_runs_unchanged(idle_server: Server, clip: Path, example: str) -> None:
    api, asset_id = _fresh_user(idle_server, clip)
    source = (EXAMPLES / example).read_text()
    source = source.replace("https://api.useapi.net", idle_server.base_url).replace(
        '"API token"', repr(api.token)
    )
    source = re.sub(r'(\w*[aA]ssetId) = "[^"]*"', lambda m: f"{m.group(1)} = {asset_id!r}", source)
    printed = _run_python(source)
    assert printed.startswith("<Response [200]>"), printed
    task = ast.literal_eval(printed.removeprefix("<Response [200]>").strip())
    _check_created(api, task, example)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.sh")))
def test_curl_example_runs_unchanged(idle_server: Server, clip: Path, example: str) -> None:
    api, asset_id = _fresh_user(idle_server, clip)
    script = (EXAMPLES / example).read_text()
    script = script.replace("https://api.useapi.net", idle_server.base_url)
    script = script.replace("Bearer …", f"Bearer {api.token}")
    script = re.sub(r'"(\w*[aA]ssetId)": "…"', lambda m: f'"{m.group(1)}": "{asset_id}"', script)
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True)
    _check_created(api, json.loads(result.stdout), example)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (apt-get install nodejs)")
@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.mjs")))
def test_javascript_example_runs_unchanged(
    idle_server: Server, clip: Path, example: str, tmp_path: Path
) -> None:
    api, asset_id = _fresh_user(idle_server, clip)
    source = (EXAMPLES / example).read_text()
    source = source.replace("https://api.useapi.net", idle_server.base_url)
    source = source.replace('"API token"', json.dumps(api.token))
    source = re.sub(r'(\w*[aA]ssetId) = "[^"]*"', lambda m: f"{m.group(1)} = {json.dumps(asset_id)}", source)
    # Node prints the result's fields as JavaScript; the example itself is left as it is, and a
    # line after it hands the same object over as JSON for the check.
    script = tmp_path / example
    script.write_text(source + "\nconsole.log(JSON.stringify(result));\n")
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60, check=True)
    printed, _, last = result.stdout.rstrip().rpartition("\n")
    assert printed.startswith("response {") and "status: 200" in printed, printed
    _check_created(api, json.loads(last), example)
