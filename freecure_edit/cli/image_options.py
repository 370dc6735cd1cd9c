"""Options about image files that `fix` and `batch` share: the quality of lossy outputs and the input
pixel limit. Declared once so that both commands say and mean the same."""

from __future__ import annotations

import click

# The library's DEFAULT_MAX_PIXELS, repeated so that --help does not import the image code;
# tests/test_cli_options.py checks that the help states the library's value.
_DEFAULT_MAX_PIXELS_TEXT = "100 million"

jpeg_quality_option = click.option(
    "--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True,
    help="Quality of a .jpg or .webp output.",
)

max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(min=0),
    help="Refuse an input with more pixels than this, before decoding it; 0 for no limit  "
         f"[default: {_DEFAULT_MAX_PIXELS_TEXT}]",
)

