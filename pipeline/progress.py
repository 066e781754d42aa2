"""Progress bars for the long steps (rich), usable as plain callbacks by library code."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress


@dataclass
class Progress:
    """Hands out ``tick(n)`` callbacks, one bar per step; quiet() shows nothing."""

    console: Console | None

    @classmethod
    def quiet(cls) -> Progress:
        """A Progress that displays nothing (tests, flows run by a scheduler)."""
        return cls(None)

    @contextmanager
    def step(self, name: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """A bar for one step; yields the callback that advances it."""
        if self.console is None:
            yield lambda n: None
            return
        columns = (
            SpinnerColumn(),
            TextColumn(f"{name:<9}"),
            BarColumn(),
            MofNCompleteColumn() if total is not None else TextColumn("{task.completed}"),
            TimeElapsedColumn(),
        )
        with RichProgress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(name, total=total)
            yield lambda n: bar.advance(task, n)
            bar.update(task, total=bar.tasks[0].completed)


@dataclass
class Stopwatch:
    """Wall time per named step: ``with clock("crawl"): ...``; read ``seconds``."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        """Time the block and add it to ``seconds[name]``."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - start
