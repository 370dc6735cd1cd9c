"""The options of the commands that keep the models loaded and cure on request (`worker`, `ui`): the
cure options are their defaults, the model options hold for the session's life. Declared once here,
with starting the library's session from them."""

from __future__ import annotations

from typing import Any

import click

from freecure_edit.cli.config_options import config_values, cure_config_options
from freecure_edit.cli.image_options import jpeg_quality_option, max_pixels_option, metadata_option
from freecure_edit.cli.model_options import model_options, model_values
from freecure_edit.cure.presets import DRAFT_HELP


def session_options(command):
    for option in reversed((
        click.option("--draft", is_flag=True, help=DRAFT_HELP),
        cure_config_options,
        model_options,
        jpeg_quality_option,
        metadata_option,
        max_pixels_option,
        click.option("--debug", is_flag=True, help="Log tracebacks and the libraries' own messages on stderr."),
    )):
        command = option(command)
    return command


def say(level: str, text: str) -> None:
    """The session's messages, as the command line prints its own."""
    from freecure_edit.cli.messages import error_line, note, warn

    {"note": note, "warning": warn, "error": error_line}[level](text)


def start_session(params: dict[str, Any], given: set[str]):
    """The loaded FreeCure, the start-up defaults and the hello line (freecure_edit.worker.session)."""
    from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries

    quiet_libraries(params["debug"])
    from freecure_edit.worker.session import start_session as start

    return start(config_values(params), given, draft=params["draft"], models=model_values(params),
                 jpeg_quality=params["jpeg_quality"], max_pixels=params["max_pixels"], metadata=params["metadata"], say=say,
                 before_loading=lambda: quiet_loaded_libraries(params["debug"]))
