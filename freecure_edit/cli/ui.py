"""`freecure-edit ui [options]`: the local web page (needs `pip install 'freecure-edit[ui]'`).

The options are the worker's: cure options are the page's defaults, model options hold for the
server's life. It listens on 127.0.0.1 unless --host says otherwise. The address is taken before any
model loads, so that a port in use is one line at once, not a minute later.
"""

from __future__ import annotations

import errno
import socket

import click

from freecure_edit.cli.config_options import explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.session_options import session_options, start_session

LOCALHOST = "127.0.0.1"


@click.command("ui")
@click.option("--host", default=LOCALHOST, show_default=True,
              help="The address to listen on; anything but 127.0.0.1 lets other machines cure on this one.")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True)
@click.option("--photo-memory", type=click.IntRange(min=1), default=2048, show_default=True, metavar="MB",
              help="The decoded photos the page keeps, shared by all its tabs; photos that listed cures need are "
                   "never dropped, and past this an upload is refused.")
@session_options
@click.pass_context
def ui(context: click.Context, host: str, port: int, photo_memory: int, **params) -> None:
    """Serve a web page to cure photos: drop a photo, type the prompt, check and paint the masks,
    follow the cure's previews, compare before and after, download."""
    with reported_errors(params["debug"]):
        try:
            import uvicorn

            from freecure_edit.ui import build_app
        except ImportError as missing:
            raise click.UsageError(f"the web page needs {missing.name}: pip install 'freecure-edit[ui]'") from None
        from freecure_edit.cli.messages import note, warn
        from freecure_edit.imageio import pixel_limit
        from freecure_edit.worker.options import read_request_options

        listening = bound_socket(host, port)
        freecure, defaults, hello = start_session(params, explicitly_given(context))

        def config_for(options: dict):
            return defaults.config(read_request_options(options, "options"))[0]

        local = host in (LOCALHOST, "localhost")
        app = build_app(freecure, config_for=config_for, max_pixels=pixel_limit(params["max_pixels"]),
                        allowed_hosts=[LOCALHOST, "localhost"] if local else None,
                        photo_memory=photo_memory * 1024 * 1024, metadata=params["metadata"])
        if host != LOCALHOST:
            warn(f"listening on {host}: anyone who can reach this machine and open the page can cure photos on it")
        port = listening.getsockname()[1]
        note(f"the page is at http://{host}:{port}/ ({hello['device']}); Ctrl-C stops it")
        server = uvicorn.Server(uvicorn.Config(app, log_level="debug" if params["debug"] else "warning"))
        try:
            server.run(sockets=[listening])
        except KeyboardInterrupt:  # uvicorn shuts down on Ctrl-C, then raises it again: a clean stop
            pass


def bound_socket(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: a port in use or an address this machine does not have is a
    ConfigurationError (exit 2) before anything loads."""
    from freecure_edit.errors import ConfigurationError

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.socket(family, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise ConfigurationError(f"--host {host}: {getattr(error, 'strerror', None) or error}") from None
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as error:
        listening.close()
        reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be used ({error.strerror or error})"
        raise ConfigurationError(f"{host}:{port} {reason}: pass another --port (or stop what listens there)") from None
    return listening
