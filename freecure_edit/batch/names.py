"""File names that are not valid UTF-8, such as `caf` + byte 0xE9 + `.png` from an old archive.

Python hands such a name over as text holding lone surrogates (os.fsdecode's surrogateescape): it
opens the file, but it cannot be printed or written as UTF-8. So a name is shown with U+FFFD for each
byte that is not UTF-8 (`readable`), and the manifest keeps its exact bytes beside the readable text,
percent-encoded (RFC 3986: `caf%E9.png`), so that --resume finds the very same file again.
"""

from __future__ import annotations

import os
from urllib.parse import quote_from_bytes, unquote_to_bytes

# Bytes left as they are in the percent-encoded form, so that it stays readable.
_SAFE = "/ !#$&'()+,-.;=@[]^_`{}~"


def is_valid_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def readable(text: str) -> str:
    """`text` with each byte of a non-UTF-8 name (and any other lone surrogate) shown as U+FFFD."""
    if is_valid_text(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no file name made: encoded as is, then replaced
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def readable_values(value):
    """`value` (JSON-like: dicts, lists, text) with every text made readable."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, dict):
        return {readable_values(key): readable_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [readable_values(item) for item in value]
    return value


def exact_bytes(name: str) -> str | None:
    """The percent-encoded bytes of a name that is not valid UTF-8; None for a valid name (whose text
    is exact already)."""
    if is_valid_text(name):
        return None
    return quote_from_bytes(os.fsencode(name), safe=_SAFE)


def from_fields(text: str, raw: str | None) -> str:
    """The name as the file system gives it, from a manifest's readable text and exact bytes."""
    return os.fsdecode(unquote_to_bytes(raw)) if raw else text
