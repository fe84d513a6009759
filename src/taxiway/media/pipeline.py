"""Decode → transform → encode with decoding and the per-frame transform on a worker thread.

PyAV releases the GIL inside FFmpeg calls (demux, decode, swscale, encode, mux), so a decode+scale
thread and the caller's encode thread genuinely run in parallel with libx264's own threads. This is
what keeps a Python-driven transcode as fast as the ffmpeg CLI, which pipelines the same way.

Progress callbacks run on the caller's thread, so an exception they raise (a cancellation) stops
the pipeline promptly: the worker is told to stop, the queue is drained and the worker joined
before the exception propagates. The caller still owns closing the decoder and the writer.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from av.video.frame import VideoFrame

from taxiway.media.decode import DecodeError, VideoDecoder
from taxiway.media.encode import H264Writer

# Frames buffered between the threads. Enough to ride out jitter; each 4K yuv420p frame is 13 MB.
DEFAULT_QUEUE_FRAMES = 6
# Progress is reported every this many frames or seconds, whichever comes first.
REPORT_EVERY_FRAMES = 5
REPORT_EVERY_SECONDS = 0.5
_POLL_S = 0.1


@dataclass
class _Failure:
    exc: BaseException


_END = object()


def transcode_frames(
    decoder: VideoDecoder,
    transform: Callable[[VideoFrame], VideoFrame],
    writer: H264Writer,
    on_progress: Callable[[int], None],
    *,
    queue_frames: int = DEFAULT_QUEUE_FRAMES,
) -> int:
    """Feed every frame of ``decoder`` through ``transform`` (worker thread) into ``writer`` (this
    thread). Calls ``on_progress(frames_written)`` every REPORT_EVERY_FRAMES frames and at least
    every REPORT_EVERY_SECONDS, even while waiting for a slow decode; whatever it raises
    propagates after the worker has stopped.

    Returns the number of frames written. Raises DecodeError (also when no frame decodes). Does not
    call ``writer.finish()``.
    """
    frames: queue.Queue[object] = queue.Queue(maxsize=queue_frames)
    stop = threading.Event()
    worker = threading.Thread(
        target=_produce, args=(decoder, transform, frames, stop), name="taxiway-decode", daemon=True
    )
    worker.start()
    done = 0
    last_report = time.monotonic()
    try:
        while True:
            try:
                item = frames.get(timeout=REPORT_EVERY_SECONDS)
            except queue.Empty:
                # Decoding is slow (huge frames, a stalled disk): keep reporting, so that a
                # cancellation raised by the callback is still honoured promptly.
                on_progress(done)
                continue
            if item is _END:
                break
            if isinstance(item, _Failure):
                raise item.exc
            assert isinstance(item, VideoFrame)
            if done == 0 and decoder.start_time is not None:
                writer.set_source_start(decoder.start_time)
            writer.write(item)
            done += 1
            now = time.monotonic()
            if done % REPORT_EVERY_FRAMES == 0 or now - last_report >= REPORT_EVERY_SECONDS:
                last_report = now
                on_progress(done)
    finally:
        stop.set()
        _drain(frames)
        worker.join()
    if done == 0:
        raise DecodeError("The video has no decodable frames.", frames_done=0, seconds=0.0)
    return done


def _produce(
    decoder: VideoDecoder,
    transform: Callable[[VideoFrame], VideoFrame],
    frames: queue.Queue[object],
    stop: threading.Event,
) -> None:
    try:
        for frame in decoder.frames():
            if not _put(frames, transform(frame), stop):
                return
        _put(frames, _END, stop)
    except BaseException as exc:  # Handed to the consumer, which re-raises it on its thread.
        _put(frames, _Failure(exc), stop)


def _put(frames: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put unless told to stop; never blocks for more than _POLL_S without checking."""
    while not stop.is_set():
        try:
            frames.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _drain(frames: queue.Queue[object]) -> None:
    while True:
        try:
            frames.get_nowait()
        except queue.Empty:
            return
