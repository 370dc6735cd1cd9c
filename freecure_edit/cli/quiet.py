"""Keep the libraries' own chatter off the terminal unless --debug asks for it.

The cure returns its warnings in CureResult.warnings, which the CLI prints once; the library also logs
them, and without a handler Python's last-resort handler would print each a second time. Progress bars
of model loading and the libraries' Python warnings (deprecations, mostly, several lines each) say
nothing a user of the command can act on; the CLI's own warnings do not go through that module.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings


def quiet_libraries(debug: bool) -> None:
    """Call before the libraries are imported: some read their settings from the environment then."""
    if debug:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(levelname)s: %(message)s")
        return
    package_logger = logging.getLogger("freecure_edit")
    if not any(isinstance(handler, logging.NullHandler) for handler in package_logger.handlers):
        package_logger.addHandler(logging.NullHandler())
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore")


def quiet_loaded_libraries(debug: bool) -> None:
    """Call after diffusers is imported: its loading progress bar ignores the environment."""
    if debug:
        return
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
