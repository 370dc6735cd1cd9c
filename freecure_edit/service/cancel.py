"""Stopping a running cure between two denoising steps.

The library's hook is `FreeCure.cure(..., cancel=event)`: it looks at the event after every denoising
step of every phase, and raises `freecure_edit.errors.CureCancelled` once it is set. The cure's own
`finally` puts the attention processors back, and nothing has been written. Here that becomes
RequestCancelled, the service's answer to a client that asked to stop.
"""

from __future__ import annotations

import threading
from typing import Callable

from freecure_edit import errors
from freecure_edit.cure.callbacks import CureCallbacks
from freecure_edit.errors import FreeCureError


class RequestCancelled(FreeCureError):
    """A request stopped because its client asked; the shell's code for an interrupted command."""

    exit_code = 130


def cancellable_cure(freecure, image, prompt: str, config, *, cancel: threading.Event,
                     progress: Callable[[str, int, int], None] | None = None,
                     callbacks: CureCallbacks | None = None):
    """`freecure.cure(...)`, stopped with RequestCancelled once `cancel` is set."""
    if cancel.is_set():
        raise RequestCancelled("cancelled before it started")
    try:
        return freecure.cure(image, prompt, config, progress=progress, callbacks=callbacks, cancel=cancel)
    except errors.CureCancelled as stopped:
        raise RequestCancelled(str(stopped) or "cancelled") from None
