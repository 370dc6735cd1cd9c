"""`freecure-edit worker [options]`: keep the models loaded and answer JSON requests, one per line, for
a photo editor's plug-in or any other program. The protocol is in worker_protocol.py and the README.

Only the options are declared here; the work is in worker_session.py, imported when the command runs
so that `--help` never loads torch.
"""

from __future__ import annotations

import sys
from contextlib import redirect_stdout

import click

from freecure_edit.cli.config_options import cure_config_options, explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.image_options import jpeg_quality_option, max_pixels_option
from freecure_edit.cli.model_options import model_options
from freecure_edit.cli.presets import DRAFT_HELP


@click.command("worker")
@click.option("--draft", is_flag=True, help=DRAFT_HELP)
@cure_config_options
@model_options
@jpeg_quality_option
@max_pixels_option
@click.option("--debug", is_flag=True, help="Log tracebacks and the libraries' own messages on stderr.")
@click.pass_context
def worker(context: click.Context, **params) -> None:
    """Cure photos sent as JSON lines on stdin, with the models loaded once (for photo editors).

    Answers one JSON line per request on stdout, after a "hello" line; progress events are JSON lines
    too, and logs go to stderr. The cure options given here are defaults that a request's "options"
    may change; the model options hold for the worker's life. Ends at the end of input or on
    {"type": "shutdown"}.
    """
    from freecure_edit.cli.worker_protocol import MessageWriter

    writer = MessageWriter(sys.stdout)
    requests = click.get_binary_stream("stdin")
    # stdout carries the protocol alone: whatever else gets printed (a library's message) goes to stderr.
    with redirect_stdout(sys.stderr), reported_errors(params["debug"]):
        from freecure_edit.cli.worker_session import run_worker

        run_worker(params, explicitly_given(context), requests, writer)
