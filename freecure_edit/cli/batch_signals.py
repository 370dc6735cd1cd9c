"""Ctrl-C and SIGTERM during a batch.

The first Ctrl-C lets the image in progress finish, and the batch stops after it; a second Ctrl-C, or
SIGTERM (what schedulers and launchers send), abandons the image at once. Either way the batch then
records what it did not do, merges the manifest and removes its temporary files before it exits.

Moving an output into place and writing its manifest line is a critical section: a signal arriving
then waits for its end, so that an image never has its output without its line, or the reverse.
The clean-up after a stop is shielded the same way, and a signal during it is dropped.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from freecure_edit.cli.messages import note

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequests:
    def __init__(self) -> None:
        self.stop_requested = False
        self._abandon_pending = False
        self._critical = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopRequests":
        # Python only lets the main thread install handlers; elsewhere (an embedding application's
        # worker thread) the application's own handling stays.
        if threading.current_thread() is threading.main_thread():
            for number in _SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: int, frame) -> None:
        if number == signal.SIGINT and not self.stop_requested:
            self.stop_requested = True
            note("stopping after the image in progress; press Ctrl-C again to abandon it")
            return
        self.stop_requested = True
        if self._critical:
            self._abandon_pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def critical(self) -> Iterator[None]:
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
        if self._abandon_pending and not self._critical:
            self._abandon_pending = False
            raise KeyboardInterrupt

    @contextmanager
    def cleaning_up(self) -> Iterator[None]:
        """The batch is stopping already: a signal now neither interrupts the clean-up nor is raised
        after it."""
        with self.critical():
            yield
            self._abandon_pending = False
