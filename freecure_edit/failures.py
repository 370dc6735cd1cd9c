"""Every failure as one line and a documented exit code, for every front end: the command line, the
worker's replies, a batch's manifest lines and the web page all use this one mapping.

The library's errors carry their exit code (freecure_edit.errors); this module adds the ones that
come from elsewhere: running out of memory (torch, the OS), a full disk (any error whose cause is
ENOSPC or EDQUOT, whoever raised it), an interruption, and bugs. Usage errors are the command line's.
"""

from __future__ import annotations

import sys

from freecure_edit.batch.names import readable
from freecure_edit.errors import DiskFullError, FreeCureError, IdentityBelowThresholdError, OutOfMemoryError

EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_OUT_OF_MEMORY = OutOfMemoryError.exit_code
EXIT_DISK_FULL = DiskFullError.exit_code
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

# torch reports a failed CPU or MPS allocation as a plain RuntimeError; its text is all there is to go on.
_OUT_OF_MEMORY_PHRASES = ("out of memory", "can't allocate memory", "not enough memory")
_MEMORY_HINT = "try --offload, --dtype fp16, --fd-cache-device cpu or a smaller --working-size"


def one_line(text: object) -> str:
    """`text` on one line, printable whatever file names it holds (see freecure_edit/batch/names.py)."""
    return " ".join(readable(str(text)).split())


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")  # never import torch just to classify an error
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(p in str(error).lower() for p in _OUT_OF_MEMORY_PHRASES)


def describe_failure(error: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended a command or a request."""
    from freecure_edit.imageio.output_checks import disk_full_cause

    no_space = disk_full_cause(error)
    if isinstance(error, FreeCureError):
        return (EXIT_DISK_FULL if no_space is not None else error.exit_code), one_line(error)
    if no_space is not None:
        where = f"{no_space.filename}: " if no_space.filename else ""
        return EXIT_DISK_FULL, f"{where}cannot write it: {no_space.strerror or no_space}"
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if is_out_of_memory(error):
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return EXIT_OUT_OF_MEMORY, f"ran out of memory ({one_line(first_line)[:200]}); {_MEMORY_HINT}"
    return EXIT_UNEXPECTED, (
        f"unexpected {type(error).__name__}: {one_line(error)[:300]} (run again with --debug for the traceback)"
    )


def identity_failure(result, setting: str, kept: str) -> IdentityBelowThresholdError | None:
    """The failure of a cure whose identity stayed below `min_identity` (named `setting` to the user)
    although its closest attempt was kept (`kept` says where); None when it did not."""
    if not result.below_threshold:
        return None
    return IdentityBelowThresholdError(
        f"identity similarity {result.identity_similarity:.3f} is below {setting} {result.config.min_identity:g} "
        f"after {result.attempts} attempt(s); the closest one {kept}"
    )
