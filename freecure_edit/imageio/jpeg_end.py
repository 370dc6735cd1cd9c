"""JPEGs that lack only their end-of-image marker: decoded, while files that are really cut short are not.

Some cameras, phones and upload tools write a JPEG whose last two bytes (FF D9) are missing; viewers
show it whole. Pillow calls it truncated, and so does any check that looks at the end of the file.
Appending the marker is not a test: libjpeg fills whatever scan data is missing with flat blocks and
decodes "successfully", so a photo cut in half would come back with a grey bottom.

The test used here: decode the data with the marker appended, then again with a run of junk between
the data and the marker. If the scan data is complete, the decoder has read every block before it
reaches the junk, skips it as bytes before a marker, and both decodes agree pixel for pixel. If the
data stops inside a scan, the decoder reads the junk as the missing blocks and the decodes differ.
Two different junk runs are used, so that no coincidence of one run can pass a cut file. A progressive
JPEG cut exactly between two scans still passes (a whole picture, short of its last refinements).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

END_OF_IMAGE = b"\xff\xd9"
# Two junk runs with no 0xFF byte (which would start a marker), different in every byte.
_JUNK_RUNS = (bytes([0x5A, 0xA5, 0x3C, 0xC3]) * 1024, bytes([0x96, 0x69, 0x0F, 0xE1]) * 1024)


def lacks_end_marker(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff" and not data.rstrip(b"\0").endswith(END_OF_IMAGE)


def _decoded(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data), formats=["JPEG"])
        image.load()
        return image
    except Exception:  # any failure means "not a complete JPEG"; the caller keeps its own refusal
        return None


def decode_missing_end_marker(data: bytes) -> Image.Image | None:
    """The image, when `data` is a whole JPEG short of only its end marker; None otherwise."""
    if not lacks_end_marker(data):
        return None
    completed = _decoded(data + END_OF_IMAGE)
    if completed is None:
        return None
    pixels = np.asarray(completed)
    for junk in _JUNK_RUNS:
        probe = _decoded(data + junk + END_OF_IMAGE)
        if probe is None or probe.size != completed.size or not np.array_equal(np.asarray(probe), pixels):
            return None
    return completed
