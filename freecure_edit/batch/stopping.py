"""Stopping a batch: between two images when asked, or at once when an image is abandoned.

A stop asked for (`request`, or the `stop` hook a caller gives: a threading.Event or a function that
returns True) lets the image in progress finish, and the batch stops after it. `abandon` stops at once
(the command line does it on a second Ctrl-C or on SIGTERM) by raising KeyboardInterrupt. Either way
the batch then records what it did not do, merges the manifest and removes its temporary files.

Moving an output into place and writing its manifest line is a critical section: an abandon arriving
then waits for its end, so that an image never has its output without its line, or the reverse. The
clean-up after a stop is shielded the same way, and an abandon during it is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from freecure_edit.errors import FreeCureError



class BatchStopped(FreeCureError):
    """The batch stopped before its end; its manifest says what was done, and resume goes on."""

    exit_code = 130  # the shell's code for an interrupted command


StopHook = threading.Event | Callable[[], bool] | None


class StopControl:
    def __init__(self, hook: StopHook = None) -> None:
        self._hook = hook
        self._requested = False
        self._abandon_pending = False
        self._critical = 0
        self.watching = False  # whether a batch is curing now and stops between its images

    @property
    def stop_requested(self) -> bool:
        if self._requested:
            return True
        hook = self._hook
        asked = hook.is_set() if isinstance(hook, threading.Event) else bool(hook()) if hook is not None else False
        self._requested = asked
        return asked

    def request(self) -> None:
        """Stop after the image in progress."""
        self._requested = True

    def abandon(self) -> None:
        """Stop now, abandoning the image in progress (called from a signal handler, on the batch's thread):
        raises KeyboardInterrupt, or once the critical section in progress has ended."""
        self._requested = True
        if self._critical:
            self._abandon_pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def watch(self) -> Iterator["StopControl"]:
        """While the batch cures: before and after, a stop has nothing to wait for."""
        self.watching = True
        try:
            yield self
        finally:
            self.watching = False

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
        """The batch is stopping already: an abandon now neither interrupts the clean-up nor is raised
        after it."""
        with self.critical():
            yield
            self._abandon_pending = False


def stop_control(stop: "StopControl | StopHook") -> StopControl:
    return stop if isinstance(stop, StopControl) else StopControl(stop)
