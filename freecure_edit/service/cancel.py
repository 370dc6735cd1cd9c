"""Stopping a running cure between two denoising steps.

The library's own hook is `FreeCure.cure(..., cancel=event)`, which raises
`freecure_edit.errors.CureCancelled`. Where the installed library predates it, the same stop comes from
the step callbacks: the progress callback (every phase, inversion included) and `on_step` raise
RequestCancelled once the event is set. Either way the exception leaves the cure before the next step,
the cure's own `finally` puts the attention processors back, and nothing has been written.
"""

from __future__ import annotations

import inspect
import threading
from dataclasses import replace
from typing import Any, Callable

from freecure_edit import errors
from freecure_edit.callbacks import CureCallbacks
from freecure_edit.errors import FreeCureError


class RequestCancelled(FreeCureError):
    """A request stopped because its client asked; the shell's code for an interrupted command."""

    exit_code = 130


def library_has_cancel_hook(freecure) -> bool:
    return hasattr(errors, "CureCancelled") and "cancel" in inspect.signature(freecure.cure).parameters


def cancellable_cure(freecure, image, prompt: str, config, *, cancel: threading.Event,
                     progress: Callable[[str, int, int], None] | None = None,
                     callbacks: CureCallbacks | None = None):
    """`freecure.cure(...)`, stopped with RequestCancelled once `cancel` is set."""
    if cancel.is_set():
        raise RequestCancelled("cancelled before it started")
    if library_has_cancel_hook(freecure):
        try:
            return freecure.cure(image, prompt, config, progress=progress, callbacks=callbacks, cancel=cancel)
        except errors.CureCancelled as stopped:
            raise RequestCancelled(str(stopped) or "cancelled") from None
    callbacks = callbacks or CureCallbacks()
    checked = replace(callbacks, on_step=_checked(cancel, callbacks.on_step))
    return freecure.cure(image, prompt, config, progress=_checked(cancel, progress), callbacks=checked)


def _checked(cancel: threading.Event, callback: Callable[..., Any] | None) -> Callable[..., None]:
    def check_then_call(*arguments) -> None:
        if cancel.is_set():
            raise RequestCancelled("cancelled while running")
        if callback is not None:
            callback(*arguments)

    return check_then_call
