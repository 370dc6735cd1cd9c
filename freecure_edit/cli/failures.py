"""Every failure ends as one line on stderr and a documented exit code; a traceback only with --debug.

The library's errors carry their exit code (freecure_edit.errors); this module adds the ones that
come from elsewhere: usage errors (click), running out of memory (torch, the OS), a full disk (any
error whose cause is ENOSPC or EDQUOT, whoever raised it), Ctrl-C, and bugs.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from freecure_edit.cli.messages import error_line, one_line
from freecure_edit.errors import DiskFullError, FreeCureError, OutOfMemoryError

EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_OUT_OF_MEMORY = OutOfMemoryError.exit_code
EXIT_DISK_FULL = DiskFullError.exit_code
EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT

# torch reports a failed CPU or MPS allocation as a plain RuntimeError; its text is all there is to go on.
_OUT_OF_MEMORY_PHRASES = ("out of memory", "can't allocate memory", "not enough memory")
_MEMORY_HINT = "try --offload, --dtype fp16, --fd-cache-device cpu or a smaller --working-size"


def _is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, MemoryError):
        return True
    torch = sys.modules.get("torch")  # never import torch just to classify an error
    if torch is not None and isinstance(error, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and any(p in str(error).lower() for p in _OUT_OF_MEMORY_PHRASES)


def describe_failure(error: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended a command."""
    from freecure_edit.outputs import disk_full_cause

    no_space = disk_full_cause(error)
    if isinstance(error, FreeCureError):
        return (EXIT_DISK_FULL if no_space is not None else error.exit_code), one_line(error)
    if no_space is not None:
        where = f"{no_space.filename}: " if no_space.filename else ""
        return EXIT_DISK_FULL, f"{where}cannot write it: {no_space.strerror or no_space}"
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    if _is_out_of_memory(error):
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return EXIT_OUT_OF_MEMORY, f"ran out of memory ({one_line(first_line)[:200]}); {_MEMORY_HINT}"
    return EXIT_UNEXPECTED, (
        f"unexpected {type(error).__name__}: {one_line(error)[:300]} (run again with --debug for the traceback)"
    )


@contextmanager
def reported_errors(debug: bool, on_failure: Callable[[int, str], None] | None = None) -> Iterator[None]:
    """Run a command's work; turn any exception into its line on stderr and exit code.

    `on_failure(code, message)` runs before exiting, e.g. to print the JSON result of a failed run.
    """
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except (Exception, KeyboardInterrupt) as error:
        code, message = describe_failure(error)
        if debug:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        error_line(message)
        if on_failure is not None:
            on_failure(code, message)
        raise click.exceptions.Exit(code) from None


class OneLineErrorsGroup(click.Group):
    """A click group whose usage errors are one line too, and which always ends with sys.exit(code).

    Overriding `main` (rather than wrapping the console script) makes click's CliRunner go through it.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            code = error.exit_code
        except click.UsageError as error:
            path = error.ctx.command_path if error.ctx is not None else self.name
            error_line(f"{error.format_message()} (see '{path} --help')")
            code = error.exit_code
        except click.ClickException as error:
            error_line(error.format_message())
            code = error.exit_code
        except click.Abort:
            error_line("interrupted")
            code = EXIT_INTERRUPTED
        code = code if isinstance(code, int) else 0
        if not standalone_mode:
            return code
        sys.exit(code)
