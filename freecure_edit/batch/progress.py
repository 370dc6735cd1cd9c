"""How far the whole batch is, all processes included, for a progress display.

Every process appends a line to its shard per image, so the main process follows the whole batch by
counting the lines of the run's shards; a thread does it twice a second, reading only what was added
since, and reports (done, total) to a callback whenever the count changes, and once more at the end.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from freecure_edit.batch.folder import BatchFolder

POLL_SECONDS = 0.5

ProgressCallback = Callable[[int, int], None]


class ShardProgress:
    def __init__(self, total: int, folder: BatchFolder, callback: ProgressCallback | None):
        self._total = total
        self._folder = folder
        self._callback = callback if total > 0 else None
        self._read: dict[Path, tuple[int, int]] = {}  # shard -> (bytes read, lines counted)
        self._reported = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "ShardProgress":
        if self._callback is None:
            return self
        self.refresh()
        self._thread = threading.Thread(target=self._follow, name="batch-progress", daemon=True)
        self._thread.start()
        return self

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.refresh()

    def refresh(self) -> None:
        if self._callback is None:
            return
        # Shards already counted stay counted: a stopped run merges and removes them before the last
        # refresh, which would otherwise show "0/N" for a batch that did cure photos.
        shards = set(self._folder.shard_files()) | set(self._read)
        done = min(sum(self._lines_in(shard) for shard in shards), self._total)
        if done != self._reported:
            self._reported = done
            self._callback(done, self._total)

    def _lines_in(self, shard: Path) -> int:
        offset, lines = self._read.get(shard, (0, 0))
        try:
            with open(shard, "rb") as stream:
                stream.seek(offset)
                added = stream.read()
        except FileNotFoundError:
            return lines
        complete = added[:added.rfind(b"\n") + 1]  # a line still being written is read next time
        lines += sum(1 for line in complete.splitlines() if not _skipped(line))
        self._read[shard] = (offset + len(complete), lines)
        return lines

    def __exit__(self, *exc_info) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self.refresh()


def _skipped(line: bytes) -> bool:
    """A line a stopped run writes for an image it did not reach: not done."""
    try:
        return json.loads(line).get("status") == "skipped"
    except (ValueError, AttributeError):
        return False
