"""Ctrl-C and SIGTERM during a batch, turned into the library's stop (freecure_edit/batch/stopping.py).

The first Ctrl-C lets the image in progress finish, and the batch stops after it; a second Ctrl-C, or
SIGTERM (what schedulers and launchers send), abandons the image at once. Before the batch starts
curing (and after) a signal interrupts as usual.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from freecure_edit.batch.stopping import StopControl
from freecure_edit.cli.messages import note

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def signal_stops(stops: StopControl) -> Iterator[StopControl]:
    # Python only lets the main thread install handlers; elsewhere (an embedding application's worker
    # thread) the application's own handling stays.
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return

    def handle(number: int, frame) -> None:
        if not stops.watching:  # as if no handler were installed
            if number == signal.SIGTERM:
                signal.signal(number, previous[number])
                os.kill(os.getpid(), number)
                return
            raise KeyboardInterrupt
        if number == signal.SIGINT and not stops.stop_requested:
            stops.request()
            note("stopping after the image in progress; press Ctrl-C again to abandon it")
            return
        stops.abandon()

    previous = {number: signal.signal(number, handle) for number in _SIGNALS}
    try:
        yield stops
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
