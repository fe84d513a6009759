"""Every call of the contract, declared once: its parameters, the request it sends and how the
answer reads. Client and AsyncClient take their methods from here (see methods.py), so a call's
signature and docstring are written nowhere else."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypedDict, TypeVar, Unpack
from urllib.parse import quote

from taxiway.client import flows, following
from taxiway.client.effects import ByteSource, Flow, Request, T
from taxiway.client.errors import NotFound
from taxiway.client.flows import BusyWait, Policy
from taxiway.client.models import Account, Asset, Engines, Features, Model, Task
from taxiway.client.uploads import upload_body

AssetRef = str | Asset
TaskRef = str | Task
AspectRatio = Literal["landscape", "portrait"]
# Expand's: landscape and portrait mean 5:3 and 3:5, as the contract's responses show.
ExpandAspect = Literal["landscape", "portrait", "5:3", "3:5", "16:9", "9:16"]
M = TypeVar("M", bound=Model)


class TaskOptions(TypedDict, total=False):
    """Fields every operation takes (all optional)."""

    explore_mode: bool
    reply_url: str
    reply_ref: str
    max_jobs: int
    email: str
    model: str  # extension: a configured model by name, or "classic"


_OPTION_FIELDS = {
    "explore_mode": "exploreMode",
    "reply_url": "replyUrl",
    "reply_ref": "replyRef",
    "max_jobs": "maxJobs",
    "email": "email",
    "model": "model",
}


def asset_id(asset: AssetRef) -> str:
    return asset.asset_id if isinstance(asset, Asset) else asset


def task_id(task: TaskRef) -> str:
    return task.task_id if isinstance(task, Task) else task


def _segment(value: str) -> str:
    # Composite ids and emails contain ':' and '@', which are legal in a path segment.
    return quote(value, safe=":@")


def _body(fields: Mapping[str, object], options: TaskOptions) -> dict[str, object]:
    body = {key: value for key, value in fields.items() if value is not None}
    for name, value in options.items():
        if name not in _OPTION_FIELDS:
            raise TypeError(f"unknown option {name!r}; expected one of {', '.join(_OPTION_FIELDS)}")
        if value is not None:
            body[_OPTION_FIELDS[name]] = value
    return body


def _query(**values: str | int | None) -> dict[str, str | int]:
    return {name: value for name, value in values.items() if value is not None and value != ""}


def _list_of(model: type[M]) -> Callable[[Any], list[M]]:
    # Lists come as arrays (tasks, assets) or keyed by id (accounts, by email).
    def parse(data: Any) -> list[M]:
        items = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
        return [model.from_json(item) for item in items if isinstance(item, dict)]

    return parse


def _secret(data: Any) -> str:
    secret = data.get("secret") if isinstance(data, dict) else None
    return secret if isinstance(secret, str) else ""


class Calls:
    """Each call as a flow (see flows.py): Client runs it to its result, AsyncClient awaits it."""

    def __init__(self, policy: Policy, on_busy: Callable[[BusyWait], Any] | None = None) -> None:
        self.policy = policy
        self.on_busy = on_busy

    def _create(self, path: str, body: dict[str, object]) -> Flow[Task]:
        # Only a create can find the account busy (429): it waits that out, telling on_busy.
        return flows.fetch(Request("POST", path, json=body), self.policy, Task.from_json, self.on_busy)

    def _read(self, path: str, parse: Callable[[Any], T], **query: str | int | None) -> Flow[T]:
        return flows.fetch(Request("GET", path, params=_query(**query) or None), self.policy, parse)

    # Operations: each returns the new task at once; wait() follows it.

    def upscale(self, asset: AssetRef, **options: Unpack[TaskOptions]) -> Flow[Task]:
        """Upscale a video of at most 40 s to 4K class (videos/upscale)."""
        return self._create("videos/upscale", _body({"videoAssetId": asset_id(asset)}, options))

    def restyle(
        self,
        asset: AssetRef,
        prompt: str,
        *,
        strength: float | None = None,
        aspect_ratio: AspectRatio | None = None,
        seconds: int | None = None,
        seed: int | None = None,
        **options: Unpack[TaskOptions],
    ) -> Flow[Task]:
        """Video to video guided by a prompt (gen3turbo/video); strength is structure_transformation 0…10."""
        fields = {
            "assetId": asset_id(asset),
            "text_prompt": prompt,
            "structure_transformation": strength,
            "aspect_ratio": aspect_ratio,
            "seconds": seconds,
            "seed": seed,
        }
        return self._create("gen3turbo/video", _body(fields, options))

    def expand(
        self,
        asset: AssetRef,
        *,
        aspect_ratio: ExpandAspect | None = None,
        image: AssetRef | None = None,
        prompt: str | None = None,
        seconds: int | None = None,
        seed: int | None = None,
        **options: Unpack[TaskOptions],
    ) -> Flow[Task]:
        """Outpaint a video to landscape 5:3 or portrait 3:5, or to 16:9 or 9:16 (gen3turbo/expand)."""
        fields = {
            "videoAssetId": asset_id(asset),
            "imageAssetId": asset_id(image) if image is not None else None,
            "text_prompt": prompt,
            "outpaint_aspect_ratio": aspect_ratio,
            "seconds": seconds,
            "seed": seed,
        }
        return self._create("gen3turbo/expand", _body(fields, options))

    def extend(
        self,
        asset: AssetRef,
        *,
        seconds: int | None = None,
        prompt: str | None = None,
        seed: int | None = None,
        turbo: bool = False,
        **options: Unpack[TaskOptions],
    ) -> Flow[Task]:
        """Add 5 or 10 seconds (gen3/extend), or 8 with turbo=True (gen3turbo/extend)."""
        fields = {"assetId": asset_id(asset), "text_prompt": prompt, "seed": seed}
        if not turbo:
            return self._create("gen3/extend", _body(fields | {"seconds": seconds}, options))
        if seconds is not None:
            raise ValueError("gen3turbo/extend always adds 8 seconds; leave seconds out with turbo=True")
        return self._create("gen3turbo/extend", _body(fields, options))

    def create(self, path: str, body: dict[str, object]) -> Flow[Task]:
        """Any operation by its path (e.g. "gen3alpha/upscale"), with a body in the contract's names."""
        return self._create(path.strip("/"), body)

    # Tasks

    def get_task(self, task: TaskRef) -> Flow[Task]:
        return self._read(f"tasks/{_segment(task_id(task))}", Task.from_json)

    def list_tasks(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        statuses: list[str] | None = None,
        email: str | None = None,
    ) -> Flow[list[Task]]:
        """Your tasks, newest first."""
        joined = ",".join(statuses) if statuses else None
        return self._read("tasks/", _list_of(Task), offset=offset, limit=limit, statuses=joined, email=email)

    def cancel_task(self, task: TaskRef) -> Flow[Task]:
        """Cancel a live task; answers its state after (a finished task is left as it is)."""
        # DELETE scheduler/{id} (204) never deletes a finished task. NotFound: finished already,
        # or not ours; the read after tells which.
        with contextlib.suppress(NotFound):
            yield from flows.discard(Request("DELETE", f"scheduler/{_segment(task_id(task))}"), self.policy)
        return (yield from self.get_task(task))

    def delete_task(self, task: TaskRef) -> Flow[Task | None]:
        """Delete a finished task and its artifacts (None); a live one is cancelled instead (the task)."""
        return flows.delete_task(Request("DELETE", f"tasks/{_segment(task_id(task))}"), self.policy)

    def wait(
        self,
        task: TaskRef,
        *,
        timeout: float | None = None,
        on_progress: Callable[[Task], Any] | None = None,
    ) -> Flow[Task]:
        """Follow until SUCCEEDED (the task): the task's event stream, or polling on servers without
        one; raises TaskFailed, TaskCancelled or Timeout. on_progress sees every state."""
        events = Request("GET", f"tasks/{_segment(task_id(task))}/events")
        read = lambda: self.get_task(task)  # noqa: E731
        return following.wait(events, read, self.policy, timeout=timeout, on_progress=on_progress)

    def events(self, task: TaskRef | None = None, *, email: str | None = None) -> Flow[None]:
        """The task's states as it changes, ending with its final state (its event stream, or
        polling on servers without one); without a task, every task of yours (of the account
        `email`) as it changes, for as long as you read (taxiway's stream; TaxiwayError elsewhere)."""
        if task is None:
            return following.all_events(
                Request("GET", "events", params=_query(email=email) or None), self.policy
            )
        if email is not None:
            raise ValueError("email narrows the stream of all tasks; one task's stream takes none")
        events = Request("GET", f"tasks/{_segment(task_id(task))}/events")
        return following.task_events(events, lambda: self.get_task(task), self.policy)

    def download(self, task: TaskRef, target: str | os.PathLike[str], *, index: int = 0) -> Flow[Path]:
        """Stream a finished task's artifact to `target` (a file, or a folder to keep its filename)."""
        known = task if isinstance(task, Task) else None
        return flows.download(known, lambda: self.get_task(task), Path(target), self.policy, index=index)

    # Assets

    def upload(
        self,
        source: str | os.PathLike[str] | ByteSource,
        *,
        name: str | None = None,
        email: str | None = None,
        content_type: str | None = None,
    ) -> Flow[Asset]:
        """Upload a file path or binary stream, streamed in chunks (never read whole into memory)."""
        name, body = upload_body(source, name, content_type)
        request = Request("POST", "assets/", params=_query(name=name, email=email), upload=body)
        return flows.fetch(request, self.policy, Asset.from_json)

    def get_asset(self, asset: AssetRef) -> Flow[Asset]:
        return self._read(f"assets/{_segment(asset_id(asset))}", Asset.from_json)

    def list_assets(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        media_type: str | None = None,
        email: str | None = None,
        group: str | None = None,
        sha256: str | None = None,
    ) -> Flow[list[Asset]]:
        """Newest first. ``group`` (an assetGroupId) and ``sha256`` (of an uploaded file's bytes)
        are taxiway's filters: a server without them ignores them."""
        return self._read(
            "assets/",
            _list_of(Asset),
            offset=offset,
            limit=limit,
            mediaType=media_type,
            email=email,
            assetGroupId=group,
            sha256=sha256,
        )

    def delete_asset(self, asset: AssetRef) -> Flow[None]:
        return flows.discard(Request("DELETE", f"assets/{_segment(asset_id(asset))}"), self.policy)

    # Accounts

    def set_account(self, email: str, *, max_jobs: int, reply_url: str | None = None) -> Flow[Account]:
        """Create an account or change its maxJobs (1…10) and replyUrl."""
        body = _body({"email": email, "maxJobs": max_jobs, "replyUrl": reply_url}, {})
        request = Request("POST", f"accounts/{_segment(email)}", json=body)
        return flows.fetch(request, self.policy, Account.from_json)

    def list_accounts(self) -> Flow[list[Account]]:
        return self._read("accounts", _list_of(Account))

    def get_account(self, email: str) -> Flow[Account]:
        return self._read(f"accounts/{_segment(email)}", Account.from_json)

    def delete_account(self, email: str) -> Flow[None]:
        return flows.discard(Request("DELETE", f"accounts/{_segment(email)}"), self.policy)

    def credits(self, email: str | None = None) -> Flow[Features]:
        """Credits permitted and used (GET features); email may be left out with one account."""
        return self._read("features", Features.from_json, email=email)

    def webhook_secret(self) -> Flow[str]:
        """The secret that signs your callbacks (a taxiway extension); see verify_callback."""
        return self._read("webhooks/secret", _secret)

    def engines(self) -> Flow[Engines]:
        """The engines offered per operation, whether each is ready, and the device (an extension)."""
        return self._read("engines", Engines.from_json)
