"""One progress bar, with an ETA, over the whole batch, on stderr.

Every process appends a line to its shard per image, so the main process follows the whole batch,
all processes included, by counting the lines of the run's shards; a thread does it twice a second,
reading only what was added since.
"""

from __future__ import annotations

import threading
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from freecure_edit.batch.folder import BatchFolder

POLL_SECONDS = 0.5


class BatchProgress:
    def __init__(self, total: int, folder: BatchFolder, *, enabled: bool, console: Console | None = None):
        self._total = total
        self._folder = folder
        self._enabled = enabled and total > 0
        self._console = console
        self._read: dict[Path, tuple[int, int]] = {}  # shard -> (bytes read, lines counted)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress: Progress | None = None

    def __enter__(self) -> "BatchProgress":
        if not self._enabled:
            return self
        self._progress = Progress(
            TextColumn("curing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), console=self._console or Console(stderr=True), transient=False,
        )
        self._task = self._progress.add_task("batch", total=self._total)
        self._progress.start()
        self._thread = threading.Thread(target=self._follow, name="batch-progress", daemon=True)
        self._thread.start()
        return self

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.refresh()

    def refresh(self) -> None:
        if self._progress is None:
            return
        done = 0
        for shard in self._folder.shard_files():
            done += self._lines_in(shard)
        self._progress.update(self._task, completed=min(done, self._total))

    def _lines_in(self, shard: Path) -> int:
        offset, lines = self._read.get(shard, (0, 0))
        try:
            with open(shard, "rb") as stream:
                stream.seek(offset)
                added = stream.read()
        except FileNotFoundError:
            return lines
        lines += added.count(b"\n")
        self._read[shard] = (offset + len(added), lines)
        return lines

    def __exit__(self, *exc_info) -> None:
        if self._progress is None:
            return
        self._stop.set()
        self._thread.join()
        self.refresh()
        self._progress.stop()
