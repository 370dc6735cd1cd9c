"""`freecure-edit ui [options]`: the local web page (needs `pip install 'freecure-edit[ui]'`).

The options are the worker's: cure options are the page's defaults, model options hold for the
server's life. It listens on 127.0.0.1 unless --host says otherwise.
"""

from __future__ import annotations

import click

from freecure_edit.cli.config_options import explicitly_given
from freecure_edit.cli.failures import reported_errors
from freecure_edit.cli.session_options import session_options, start_session

LOCALHOST = "127.0.0.1"


@click.command("ui")
@click.option("--host", default=LOCALHOST, show_default=True,
              help="The address to listen on; anything but 127.0.0.1 lets other machines cure on this one.")
@click.option("--port", type=click.IntRange(0, 65535), default=7860, show_default=True)
@session_options
@click.pass_context
def ui(context: click.Context, host: str, port: int, **params) -> None:
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

        freecure, defaults, hello = start_session(params, explicitly_given(context))

        def config_for(options: dict):
            return defaults.config(read_request_options(options, "options"))[0]

        local = host in (LOCALHOST, "localhost")
        app = build_app(freecure, config_for=config_for, max_pixels=pixel_limit(params["max_pixels"]),
                        allowed_hosts=[LOCALHOST, "localhost"] if local else None)
        if host != LOCALHOST:
            warn(f"listening on {host}: anyone who can reach this machine can cure photos on it")
        note(f"the page is at http://{host}:{port}/ ({hello['device']}); Ctrl-C stops it")
        uvicorn.run(app, host=host, port=port, log_level="debug" if params["debug"] else "warning")
