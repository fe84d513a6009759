"""Client and AsyncClient methods made from the declarations in calls.py, so no signature is
written twice: `upscale = blocking(Calls.upscale)` gives Client.upscale the declared parameters
(type checkers see them through the ParamSpec; help() and inspect through __signature__) and runs
the call's flow to its result; `awaited` does the same for AsyncClient, as a coroutine. Calls that
emit tasks as they come (events) become iterators: `streamed`, and `streamed_async` for AsyncClient."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from taxiway.client.calls import Calls
from taxiway.client.effects import Flow, T
from taxiway.client.models import Task

P = ParamSpec("P")
Method = TypeVar("Method", bound=Callable[..., Any])


class BlockingDriver(Protocol):
    _calls: Calls

    def _run(self, flow: Flow[T]) -> T: ...

    def _iterate(self, flow: Flow[Any]) -> Iterator[Any]: ...


class AsyncDriver(Protocol):
    _calls: Calls

    async def _run(self, flow: Flow[T]) -> T: ...

    def _iterate(self, flow: Flow[Any]) -> AsyncIterator[Any]: ...


def blocking(
    declared: Callable[Concatenate[Calls, P], Flow[T]],
) -> Callable[Concatenate[BlockingDriver, P], T]:
    """A Client method: the declared call, run to its result."""

    def method(self: BlockingDriver, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(declared(self._calls, *args, **kwargs))

    return _declared_as(method, declared)


def awaited(
    declared: Callable[Concatenate[Calls, P], Flow[T]],
) -> Callable[Concatenate[AsyncDriver, P], Coroutine[Any, Any, T]]:
    """An AsyncClient method: the declared call, awaited."""

    async def method(self: AsyncDriver, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._run(declared(self._calls, *args, **kwargs))

    return _declared_as(method, declared)


def streamed(
    declared: Callable[Concatenate[Calls, P], Flow[None]],
) -> Callable[Concatenate[BlockingDriver, P], Iterator[Task]]:
    """A Client method for a call that emits tasks (events): an iterator of them."""

    def method(self: BlockingDriver, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[Task]:
        yield from self._iterate(declared(self._calls, *args, **kwargs))

    return _declared_as(method, declared, Iterator[Task])


def streamed_async(
    declared: Callable[Concatenate[Calls, P], Flow[None]],
) -> Callable[Concatenate[AsyncDriver, P], AsyncIterator[Task]]:
    """An AsyncClient method for a call that emits tasks: an async iterator of them."""

    async def method(self: AsyncDriver, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[Task]:
        async for task in self._iterate(declared(self._calls, *args, **kwargs)):
            yield task

    return _declared_as(method, declared, AsyncIterator[Task])


def _declared_as(method: Method, declared: Callable[..., Flow[Any]], returns: Any = None) -> Method:
    """`method` with the declaration's name, docstring and signature, returning what the flow does
    (or ``returns``, for the iterators of streamed calls)."""
    functools.update_wrapper(method, declared)
    signature = inspect.signature(declared, eval_str=True)
    if returns is None:
        returns = typing.get_args(signature.return_annotation)[-1]  # Flow[X] is Generator[Effect, Any, X]
        returns = None if returns is type(None) else returns
    method.__signature__ = signature.replace(return_annotation=returns)  # type: ignore[attr-defined]
    method.__annotations__ = {
        name: parameter.annotation
        for name, parameter in signature.parameters.items()
        if parameter.annotation is not inspect.Parameter.empty
    } | {"return": returns}
    return method
