"""Chunks of work across worker processes, in order, with a bounded number in flight."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from typing import Any, TypeVar

from newsingest import timings

T = TypeVar("T")
R = TypeVar("R")


def default_processes() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most size items."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def map_chunks(
    work: Callable[[list[T]], list[R]],
    items: Iterable[T],
    *,
    processes: int,
    chunk_size: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[list[R]]:
    """Apply work to consecutive chunks of items, yielding each chunk's results in order.

    With one process the chunks run here. With more, in worker processes started
    by forkserver (a worker never inherits the caller's threads or connections);
    at most two chunks per worker are in flight, so memory is bounded by the chunk
    size whatever the number of items.

    Args:
        work: a module-level function (it is pickled by name) mapping a chunk to results.
        items: the inputs, read lazily.
        processes: worker processes (1: no pool).
        chunk_size: items per chunk.
        initializer: run once in each worker (and once here when processes is 1).
        initargs: its arguments.
    """
    chunks = chunked(items, chunk_size)
    if processes <= 1:
        if initializer is not None:
            initializer(*initargs)
        for chunk in chunks:
            yield work(chunk)
        return
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(
        max_workers=processes, mp_context=context, initializer=initializer, initargs=initargs
    ) as pool:
        pending: deque[Future[tuple[list[R], float]]] = deque()
        for chunk in chunks:
            pending.append(pool.submit(_measured, work, chunk))
            if len(pending) >= 2 * processes:
                yield _collect(pending.popleft())
        while pending:
            yield _collect(pending.popleft())


def _measured(work: Callable[[list[T]], list[R]], chunk: list[T]) -> tuple[list[R], float]:
    """Run one chunk in a worker: its results and the worker CPU seconds it took."""
    began = time.process_time()
    results = work(chunk)
    return results, time.process_time() - began


def _collect(future: Future[tuple[list[R], float]]) -> list[R]:
    """A chunk's results; its CPU is counted for the stage (workers are no children of ours)."""
    results, cpu = future.result()
    timings.note_worker_cpu(cpu)
    return results
