"""The contract's own Python examples work against taxiway by changing only the base URL and token."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from support import Server
from taxiway.accounts.service import set_plan

EXAMPLES = Path(__file__).parent.parent / "reference_examples"


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_reference_example_runs_unchanged(idle_server: Server, clip: Path, example: str) -> None:
    api = idle_server.new_user()
    api.create_account("examples@example.com", max_jobs=10)
    # videos/upscale's example uses exploreMode: true, which needs the unlimited plan.
    set_plan(idle_server.ctx.db, "examples@example.com", "unlimited")
    asset_id = api.upload(clip, "video/mp4")["assetId"]

    source = (EXAMPLES / example).read_text()
    # Only what the reference tells users to change: base URL, token, and the placeholder values.
    source = source.replace("https://api.useapi.net", idle_server.base_url).replace(
        '"API token"', repr(api.token)
    )
    source = re.sub(r'(\w*[aA]ssetId) = "[^"]*"', lambda m: f"{m.group(1)} = {asset_id!r}", source)
    source = source.replace('text_prompt = "text prompt"', 'text_prompt = "a black and white film noir"')
    ast.parse(source)

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(source, example, "exec"), {})
    printed = output.getvalue()
    assert printed.startswith("<Response [200]>"), printed
    assert "'status': 'PENDING'" in printed
    assert api.http.get("/scheduler/").json()[0]["taskId"] in printed
