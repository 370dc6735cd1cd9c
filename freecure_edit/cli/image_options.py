"""Options about image files that `fix`, `batch`, the worker and the page share: the quality of lossy
outputs, the metadata policy and the input pixel limit. Declared once so that both commands say and mean the same."""

from __future__ import annotations

import click

# The library's DEFAULT_MAX_PIXELS, repeated so that --help does not import the image code;
# tests/test_cli_options.py checks that the help states the library's value.
_DEFAULT_MAX_PIXELS_TEXT = "100 million"

jpeg_quality_option = click.option(
    "--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True,
    help="Quality of a .jpg or .webp output.",
)

# imageio.metadata_policy's names and default, repeated so that --help does not import the image code;
# tests/test_metadata_policy.py checks that they are the library's.
METADATA_CHOICES = ("keep", "strip-private", "strip")
metadata_option = click.option(
    "--metadata", type=click.Choice(METADATA_CHOICES), default="strip-private", show_default=True,
    help="What of the input's metadata the output keeps. keep: all of it; strip-private: camera, exposure, "
         "dates and copyright, but no GPS position, serial numbers, owner, maker notes or XMP; strip: only the "
         "colour profile and dpi (not even the prompt and settings).",
)

max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(min=0),
    help="Refuse an input with more pixels than this, before decoding it; 0 for no limit  "
         f"[default: {_DEFAULT_MAX_PIXELS_TEXT}]",
)

