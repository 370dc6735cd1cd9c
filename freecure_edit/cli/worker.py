"""`freecure-edit worker [options]`: keep the models loaded and answer JSON requests, one per line, for
a photo editor's plug-in or any other program. The protocol and the session are the library's
(freecure_edit/worker/), imported when the command runs so that `--help` never loads torch.
"""

from __future__ import annotations

import sys
from contextlib import redirect_stdout

import click

from freecure_edit.cli.config_options import explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.session_options import say, session_options, start_session


@click.command("worker")
@session_options
@click.pass_context
def worker(context: click.Context, **params) -> None:
    """Cure photos sent as JSON lines on stdin, with the models loaded once (for photo editors).

    Answers one JSON line per request on stdout, after a "hello" line; progress events are JSON lines
    too, and logs go to stderr. The cure options given here are defaults that a request's "options"
    may change; the model options hold for the worker's life. Ends at the end of input or on
    {"type": "shutdown"}.
    """
    from freecure_edit.worker import protocol

    writer = protocol.MessageWriter(sys.stdout)
    requests = click.get_binary_stream("stdin")
    # stdout carries the protocol alone: whatever else gets printed (a library's message) goes to stderr.
    with redirect_stdout(sys.stderr), reported_errors(params["debug"]):
        from freecure_edit.failures import describe_failure
        from freecure_edit.worker.session import run_worker

        try:
            session = start_session(params, explicitly_given(context))
        except Exception as error:
            writer.send(protocol.hello_failure(*describe_failure(error)))
            raise
        run_worker(session, requests, writer, debug=params["debug"], say=say)
