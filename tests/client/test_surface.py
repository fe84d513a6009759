"""Client and AsyncClient offer the same calls with the same signatures: each one declared in calls.py."""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from taxiway.client import AsyncClient, Client, Task
from taxiway.client.calls import Calls


def _public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, callable) if not name.startswith("_")}


def test_both_clients_offer_every_declared_call_and_nothing_else() -> None:
    declared = _public(Calls)
    assert {"upscale", "restyle", "expand", "extend", "wait", "upload", "credits"} <= declared
    assert _public(Client) - {"close"} == declared
    assert _public(AsyncClient) - {"aclose"} == declared


STREAMED = {"events"}  # calls that emit tasks as they come: iterators, not results


@pytest.mark.parametrize("name", sorted(_public(Calls) - STREAMED))
def test_sync_and_async_signatures_are_the_declared_one(name: str) -> None:
    blocking, awaited = getattr(Client, name), getattr(AsyncClient, name)
    assert inspect.signature(blocking) == inspect.signature(awaited)
    assert blocking.__doc__ == awaited.__doc__ == getattr(Calls, name).__doc__
    assert not inspect.iscoroutinefunction(blocking) and inspect.iscoroutinefunction(awaited)
    declared = inspect.signature(getattr(Calls, name), eval_str=True)
    assert inspect.signature(blocking).parameters == declared.parameters
    # The declaration returns a flow, Generator[Effect, Any, X]; the clients return (or await) X.
    flow_result: Any = typing.get_args(declared.return_annotation)[-1]
    returned = inspect.signature(blocking).return_annotation
    assert returned == (None if flow_result is type(None) else flow_result)
    assert typing.get_type_hints(blocking)["return"] == typing.get_type_hints(awaited)["return"]


@pytest.mark.parametrize("name", sorted(STREAMED))
def test_streamed_calls_are_iterators_with_the_declared_parameters(name: str) -> None:
    blocking, awaited = getattr(Client, name), getattr(AsyncClient, name)
    declared = inspect.signature(getattr(Calls, name), eval_str=True)
    assert (
        inspect.signature(blocking).parameters == inspect.signature(awaited).parameters == declared.parameters
    )
    assert blocking.__doc__ == awaited.__doc__ == getattr(Calls, name).__doc__
    assert inspect.isgeneratorfunction(blocking) and inspect.isasyncgenfunction(awaited)
    assert inspect.signature(blocking).return_annotation == Iterator[Task]
    assert inspect.signature(awaited).return_annotation == AsyncIterator[Task]


def test_bound_methods_show_the_callers_parameters() -> None:
    with Client("http://server.test", "token") as client:
        signature = inspect.signature(client.restyle)
    assert list(signature.parameters)[:2] == ["asset", "prompt"]  # no self
    assert signature.parameters["strength"].kind is inspect.Parameter.KEYWORD_ONLY
    assert signature.parameters["strength"].default is None
    assert signature.return_annotation is Task
