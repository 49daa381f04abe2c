"""How long a stage took, in wall-clock and CPU seconds (worker processes included)."""

from __future__ import annotations

import os
import resource
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(slots=True)
class StageTiming:
    """One stage (or one part of it: a feed, a shard) of one run."""

    stage: str
    part: str = ""
    items: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    wall_s: float = 0.0
    cpu_s: float = 0.0
    worker: str = ""

    def line(self, run_key: str) -> str:
        """The log line an operator reads at the end of the stage."""
        part = f" {self.part}" if self.part else ""
        rate = f" ({self.items / self.wall_s:.1f}/s)" if self.wall_s > 0 and self.items else ""
        return (
            f"stage {self.stage}{part} of run {run_key}: {self.items} items in "
            f"{self.wall_s:.2f} s wall, {self.cpu_s:.2f} s CPU{rate}"
        )


class Stopwatch:
    """Measure a block: `with Stopwatch("extract") as watch: ...; watch.timing`."""

    def __init__(self, stage: str, part: str = "") -> None:
        self.timing = StageTiming(stage=stage, part=part)
        self._wall = 0.0
        self._cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self.timing.started_at = datetime.now(UTC)
        self._wall = time.perf_counter()
        self._cpu = cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timing.wall_s = time.perf_counter() - self._wall
        self.timing.cpu_s = cpu_seconds() - self._cpu
        self.timing.finished_at = datetime.now(UTC)
        self.timing.worker = f"{socket.gethostname()}:{os.getpid()}"


# CPU seconds of pool workers (started by a forkserver, so not children of this process,
# and absent from RUSAGE_CHILDREN) as the pool reports them chunk by chunk.
_worker_cpu = [0.0]


def note_worker_cpu(seconds: float) -> None:
    """Count CPU a worker process spent on this process's behalf."""
    _worker_cpu[0] += seconds


def cpu_seconds() -> float:
    """CPU of this process, its finished child processes and the pool workers it used."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + _worker_cpu[0]
