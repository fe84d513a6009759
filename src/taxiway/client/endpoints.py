"""Each public call of the clients as one flow: the request, how its answer parses, and its policy."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taxiway.client import calls, flows
from taxiway.client.calls import AspectRatio, AssetRef, ExpandAspect, TaskOptions, TaskRef
from taxiway.client.effects import ByteSource, Flow
from taxiway.client.errors import NotFound
from taxiway.client.flows import BusyWait, Policy
from taxiway.client.models import Account, Asset, Credits, Engines, Task


def _list_of(model: Callable[[dict[str, Any]], Any]) -> Callable[[Any], list[Any]]:
    def parse(data: Any) -> list[Any]:
        items = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
        return [model(item) for item in items if isinstance(item, dict)]

    return parse


class Endpoints:
    """Builds the flow of every call; Client and AsyncClient only run them."""

    def __init__(self, policy: Policy, on_busy: Callable[[BusyWait], Any] | None) -> None:
        self.policy = policy
        self.on_busy = on_busy

    def _task(self, request: calls.Request) -> Flow[Task]:
        return flows.fetch(request, self.policy, Task.from_json, self.on_busy)

    # Operations

    def upscale(self, asset: AssetRef, options: TaskOptions) -> Flow[Task]:
        return self._task(calls.upscale(asset, options))

    def restyle(
        self,
        asset: AssetRef,
        prompt: str,
        strength: float | None,
        aspect_ratio: AspectRatio | None,
        seconds: int | None,
        seed: int | None,
        options: TaskOptions,
    ) -> Flow[Task]:
        request = calls.restyle(
            asset,
            prompt,
            strength=strength,
            aspect_ratio=aspect_ratio,
            seconds=seconds,
            seed=seed,
            options=options,
        )
        return self._task(request)

    def expand(
        self,
        asset: AssetRef,
        aspect_ratio: ExpandAspect | None,
        image: AssetRef | None,
        prompt: str | None,
        seconds: int | None,
        seed: int | None,
        options: TaskOptions,
    ) -> Flow[Task]:
        request = calls.expand(
            asset,
            aspect_ratio=aspect_ratio,
            image=image,
            prompt=prompt,
            seconds=seconds,
            seed=seed,
            options=options,
        )
        return self._task(request)

    def extend(
        self,
        asset: AssetRef,
        seconds: int | None,
        prompt: str | None,
        seed: int | None,
        turbo: bool,
        options: TaskOptions,
    ) -> Flow[Task]:
        return self._task(
            calls.extend(asset, seconds=seconds, prompt=prompt, seed=seed, turbo=turbo, options=options)
        )

    def create(self, path: str, body: dict[str, object]) -> Flow[Task]:
        return self._task(calls.operation(path, body))

    # Tasks

    def get_task(self, task: TaskRef) -> Flow[Task]:
        return flows.fetch(calls.get_task(task), self.policy, Task.from_json)

    def list_tasks(
        self, offset: int, limit: int | None, statuses: list[str] | None, email: str | None
    ) -> Flow[list[Task]]:
        request = calls.list_tasks(offset=offset, limit=limit, statuses=statuses, email=email)
        return flows.fetch(request, self.policy, _list_of(Task.from_json))

    def cancel_task(self, task: TaskRef) -> Flow[Task]:
        """DELETE scheduler/{id} never deletes a finished task; the task's state is read after."""
        # NotFound: finished already, or not ours; the read below tells which.
        with contextlib.suppress(NotFound):
            yield from flows.discard(calls.cancel_task(task), self.policy)
        return (yield from self.get_task(task))

    def delete_task(self, task: TaskRef) -> Flow[Task | None]:
        return flows.delete_task(calls.delete_task(task), self.policy)

    def wait(
        self, task: TaskRef, timeout: float | None, on_progress: Callable[[Task], Any] | None
    ) -> Flow[Task]:
        return flows.wait(task, self.policy, timeout=timeout, on_progress=on_progress)

    def download(self, task: TaskRef, target: str | os.PathLike[str], index: int) -> Flow[Path]:
        return flows.download(task, Path(target), self.policy, index=index)

    # Assets

    def upload(
        self,
        source: str | os.PathLike[str] | ByteSource,
        name: str | None,
        email: str | None,
        content_type: str | None,
    ) -> Flow[Asset]:
        request = calls.upload(source, name=name, email=email, content_type=content_type)
        return flows.fetch(request, self.policy, Asset.from_json)

    def get_asset(self, asset: AssetRef) -> Flow[Asset]:
        return flows.fetch(calls.get_asset(asset), self.policy, Asset.from_json)

    def list_assets(
        self,
        offset: int,
        limit: int | None,
        media_type: str | None,
        email: str | None,
        group: str | None = None,
        sha256: str | None = None,
    ) -> Flow[list[Asset]]:
        request = calls.list_assets(
            offset=offset, limit=limit, media_type=media_type, email=email, group=group, sha256=sha256
        )
        return flows.fetch(request, self.policy, _list_of(Asset.from_json))

    def delete_asset(self, asset: AssetRef) -> Flow[None]:
        return flows.discard(calls.delete_asset(asset), self.policy)

    # Accounts

    def set_account(self, email: str, max_jobs: int, reply_url: str | None) -> Flow[Account]:
        request = calls.set_account(email, max_jobs=max_jobs, reply_url=reply_url)
        return flows.fetch(request, self.policy, Account.from_json)

    def list_accounts(self) -> Flow[list[Account]]:
        return flows.fetch(calls.list_accounts(), self.policy, _list_of(Account.from_json))

    def get_account(self, email: str) -> Flow[Account]:
        return flows.fetch(calls.get_account(email), self.policy, Account.from_json)

    def delete_account(self, email: str) -> Flow[None]:
        return flows.discard(calls.delete_account(email), self.policy)

    def credits(self, email: str | None) -> Flow[Credits]:
        return flows.fetch(calls.features(email), self.policy, Credits.from_json)

    def webhook_secret(self) -> Flow[str]:
        """taxiway's extension: the secret that signs your callbacks."""
        return flows.fetch(
            calls.Request("GET", "webhooks/secret"), self.policy, lambda data: str(data.get("secret", ""))
        )

    def engines(self) -> Flow[Engines]:
        """taxiway's extension: the engines offered per operation, and whether each is ready."""
        return flows.fetch(calls.engines(), self.policy, Engines.from_json)
