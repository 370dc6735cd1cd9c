"""The rows of a prompts file, CSV (with a header) or JSONL, as (where, values) pairs for the commands
that read one (`eval --prompts`, `generate --prompts`); each command checks its own keys.

JSONL is told by the extension (.jsonl, .ndjson, .json), else by a first character "{". Empty CSV cells
and blank lines are left out (JSON values come as written); a CSV row with more cells than the header is refused, since an unquoted comma
in a prompt would otherwise cut it silently.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from freecure_edit.errors import ConfigurationError


def read_records(path: Path, option: str = "--prompts", required_column: str | None = None
                 ) -> list[tuple[str, dict[str, Any]]]:
    """The file's rows; `required_column`: a CSV header without it is refused at once (the usual slip)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigurationError(f"{option} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"{option} {path}: cannot read it ({error})") from None
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json") or text.lstrip().startswith("{")
    return list(_jsonl(path.name, text) if jsonl else _csv(path.name, text, required_column))


def _jsonl(name: str, text: str):
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name} line {number}"
        try:
            values = json.loads(line)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"{where}: not JSON ({error.msg})") from None
        if not isinstance(values, dict):
            raise ConfigurationError(f"{where}: a row is a JSON object")
        yield where, values  # a null is kept: batch reads it as "the setting's default"


def _csv(name: str, text: str, required_column: str | None):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = [column.strip() for column in reader.fieldnames or []]
    if required_column is not None and required_column not in columns:
        raise ConfigurationError(f"{name} line 1: the header needs a {required_column!r} column")
    for record in reader:
        where = f"{name} line {reader.line_num}"
        if None in record:
            raise ConfigurationError(f"{where}: more cells than the header has columns "
                                     "(quote a prompt that holds a comma)")
        values = {key.strip(): cell for key, cell in record.items() if cell is not None and cell.strip() != ""}
        if values:
            yield where, values
