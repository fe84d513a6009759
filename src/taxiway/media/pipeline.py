"""Decode → transform → encode with decoding and the per-frame transform on a worker thread.

PyAV releases the GIL inside FFmpeg calls (demux, decode, swscale, encode, mux), so a decode+scale
thread and the caller's encode thread genuinely run in parallel with libx264's own threads. This is
what keeps a Python-driven transcode as fast as the ffmpeg CLI, which pipelines the same way.

Progress callbacks run on the caller's thread, so an exception they raise (a cancellation) stops
the pipeline promptly: the worker is told to stop, the queue is drained and the worker joined
before the exception propagates. The caller still owns closing the decoder and the writer.

The plumbing under it (``Stages``, ``Handoff``, ``Stage``) serves pipelines with more stages too:
the neural upscale's decode → model → encode.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from av.video.frame import VideoFrame

from taxiway.media.decode import DecodeError, VideoDecoder
from taxiway.media.encode import H264Writer

# Frames buffered between the threads. Enough to ride out jitter; each 4K yuv420p frame is 13 MB.
DEFAULT_QUEUE_FRAMES = 6
# Progress is reported every this many frames or seconds, whichever comes first.
REPORT_EVERY_FRAMES = 5
REPORT_EVERY_SECONDS = 0.5
_POLL_S = 0.1

T = TypeVar("T")
Tick = Callable[[], None]


def transcode_frames(
    decoder: VideoDecoder,
    transform: Callable[[VideoFrame], VideoFrame],
    writer: H264Writer,
    on_progress: Callable[[int], None],
    *,
    queue_frames: int = DEFAULT_QUEUE_FRAMES,
    preview: Callable[[VideoFrame], None] | None = None,
) -> int:
    """Feed every frame of ``decoder`` through ``transform`` (worker thread) into ``writer`` (this
    thread). Calls ``on_progress(frames_written)`` every REPORT_EVERY_FRAMES frames and at least
    every REPORT_EVERY_SECONDS, even while waiting for a slow decode; whatever it raises
    propagates after the worker has stopped. Every frame written is offered to ``preview`` first
    (a running task's live preview, which keeps one every few seconds).

    Returns the number of frames written. Raises DecodeError (also when no frame decodes). Does not
    call ``writer.finish()``.
    """
    done = 0
    last_report = time.monotonic()
    with Stages() as stages:
        frames: Handoff[VideoFrame] = stages.handoff(queue_frames)
        stages.feed(map(transform, decoder.frames()), frames, name="taxiway-decode")

        def waiting() -> None:
            # Decoding is slow (huge frames, a stalled disk): keep reporting, so that a
            # cancellation raised by the callback is still honoured promptly.
            on_progress(done)

        for frame in frames.items(waiting, every=REPORT_EVERY_SECONDS):
            if done == 0 and decoder.start_time is not None:
                writer.set_source_start(decoder.start_time)
            if preview is not None:
                preview(frame)
            writer.write(frame)
            done += 1
            now = time.monotonic()
            if done % REPORT_EVERY_FRAMES == 0 or now - last_report >= REPORT_EVERY_SECONDS:
                last_report = now
                on_progress(done)
    if done == 0:
        raise DecodeError("The video has no decodable frames.", frames_done=0, seconds=0.0)
    return done


# -- the plumbing ----------------------------------------------------------------------------------


@dataclass
class _Failure:
    exc: BaseException


_END = object()


class Handoff(Generic[T]):
    """A bounded queue from one thread to another that also carries the end of the items, or the
    sender's failure. Every wait gives up once ``stop`` is set, so that no thread stays blocked on
    a side that has quit."""

    def __init__(self, size: int, stop: threading.Event) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=size)
        self._stop = stop

    def put(self, item: T, tick: Tick | None = None) -> bool:
        """Put ``item``, or return False once told to stop; calls ``tick`` (progress, which may
        raise) every _POLL_S while the queue is full."""
        return self._put(item, tick)

    def end(self, tick: Tick | None = None) -> bool:
        """Tell the receiver there are no more items."""
        return self._put(_END, tick)

    def fail(self, exc: BaseException) -> None:
        """Hand ``exc`` to the receiver, which re-raises it on its own thread after the items before it."""
        self._put(_Failure(exc), None)

    def items(self, tick: Tick | None = None, *, every: float = _POLL_S) -> Iterator[T]:
        """The items up to the end; re-raises the sender's failure. Calls ``tick`` (which may raise)
        after every ``every`` seconds without an item. Returns early once told to stop."""
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=every)
            except queue.Empty:
                if tick is not None:
                    tick()
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield cast(T, item)

    def drain(self) -> None:
        """Drop what is queued (frames are big), unblocking a sender."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _put(self, item: object, tick: Tick | None) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                if tick is not None:
                    tick()
        return False


class Stage:
    """One thread of a pipeline; what it raises is kept for the thread that started it."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        self.failure: BaseException | None = None
        self._target = target
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def check(self) -> None:
        """Re-raise, on the calling thread, what the stage raised."""
        if self.failure is not None:
            raise self.failure

    def wait(self, tick: Tick, *, every: float = REPORT_EVERY_SECONDS) -> None:
        """Wait for the stage to finish, calling ``tick`` every ``every`` seconds; then ``check()``."""
        while self._thread.is_alive():
            self._thread.join(timeout=every)
            tick()
        self.check()

    def join(self) -> None:
        self._thread.join()

    def _run(self) -> None:
        try:
            self._target()
        except BaseException as exc:  # Re-raised on the starting thread by check() or wait().
            self.failure = exc


class Stages:
    """The threads of one pipeline and the handoffs between them, as a ``with`` block.

    However the block is left (done, failed, cancelled), every thread is told to stop, every
    handoff drained and every thread joined before an exception propagates.
    """

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._handoffs: list[Handoff[Any]] = []
        self._stages: list[Stage] = []

    def handoff(self, size: int) -> Handoff[Any]:
        """A new handoff of ``size`` items between this pipeline's threads."""
        handoff: Handoff[Any] = Handoff(size, self._stop)
        self._handoffs.append(handoff)
        return handoff

    def feed(self, items: Iterable[T], into: Handoff[T], *, name: str) -> Stage:
        """Iterate ``items`` on a new thread into ``into``, then its end, or what iterating raised."""

        def run() -> None:
            try:
                for item in items:
                    if not into.put(item):
                        return
                into.end()
            except BaseException as exc:  # Handed to the receiver, which re-raises it on its thread.
                into.fail(exc)

        return self._start(run, name)

    def consume(self, source: Handoff[T], each: Callable[[T], None], *, name: str) -> Stage:
        """Call ``each`` on a new thread for every item of ``source``; its failure is the stage's."""

        def run() -> None:
            for item in source.items():
                each(item)

        return self._start(run, name)

    def _start(self, target: Callable[[], None], name: str) -> Stage:
        stage = Stage(target, name)
        self._stages.append(stage)
        return stage

    def __enter__(self) -> Stages:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        for handoff in self._handoffs:
            handoff.drain()
        for stage in self._stages:
            stage.join()
