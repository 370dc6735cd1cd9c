"""Errors a user can act on.

Each carries a one-line message meant to be shown as is, and an exit code the CLI uses, so that the
library and the command line agree on what went wrong without string matching.
"""

from __future__ import annotations


class FreeCureError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    exit_code = 1


class InputImageError(FreeCureError):
    """The input image is unreadable, corrupt, too large, or has no usable face."""

    exit_code = 3


class ModelNotFoundError(FreeCureError):
    """A model or checkpoint is not on disk and cannot be fetched."""

    exit_code = 4


class UnsafeCheckpointError(FreeCureError):
    """A pickled checkpoint was refused because unpickling can run arbitrary code."""

    exit_code = 4


class OutOfMemoryError(FreeCureError):
    """The device ran out of memory."""

    exit_code = 5


class DiskFullError(FreeCureError):
    """An output or the batch's manifest could not be written: no space left (or a quota reached)."""

    exit_code = 7


class IdentityBelowThresholdError(FreeCureError):
    """The cured face drifted further from the input identity than the user allows."""

    exit_code = 6


class ConfigurationError(FreeCureError):
    """Settings that cannot work together, or a model the tool does not support."""

    exit_code = 2


class CureCancelled(FreeCureError):
    """The caller's cancel hook was set: the cure stopped between two denoising steps, wrote nothing,
    and left the model as it was."""

    exit_code = 130
