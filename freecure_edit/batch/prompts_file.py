"""The prompts file of a batch: each row names a file (relative to the input folder) and may give its
prompt and settings of its own.

CSV, with a header row:

    file,prompt,steps,output
    alice.jpg,"a woman with black curly hair",30,
    bob.png,"a man wearing sunglasses",,bob-sunglasses.jpg

JSONL, one object per line:

    {"file": "alice.jpg", "prompt": "a woman with black curly hair", "steps": 30}

An empty CSV cell, or a key left out, keeps the batch's value. Settings come back as written (text
from CSV, JSON values from JSONL); the command line interprets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from freecure_edit.errors import ConfigurationError
from freecure_edit.prompts.records import read_records

FILE_KEY = "file"
PROMPT_KEY = "prompt"


@dataclass(frozen=True)
class PromptRow:
    file: str  # normalised: POSIX, relative to the input folder
    prompt: str | None
    settings: dict[str, Any] = field(default_factory=dict)
    where: str = ""  # "prompts.csv line 3", for messages


def read_prompts_file(path: Path) -> list[PromptRow]:
    """The rows of a CSV or JSONL prompts file (told apart by the extension, else by the first
    character); two rows for the same file are refused."""
    rows = [_row(values, where) for where, values in read_records(path, required_column=FILE_KEY)]
    seen: dict[str, str] = {}
    for row in rows:
        if row.file in seen:
            raise ConfigurationError(f"{row.where}: {row.file} already has a row ({seen[row.file]})")
        seen[row.file] = row.where
    return rows


def _row(values: dict[str, Any], where: str) -> PromptRow:
    values = dict(values)
    file = values.pop(FILE_KEY, None)
    if not isinstance(file, str) or not file.strip():
        raise ConfigurationError(f"{where}: no {FILE_KEY!r}")
    prompt = values.pop(PROMPT_KEY, None)
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        raise ConfigurationError(f"{where}: the prompt must be text")
    return PromptRow(_relative(file.strip(), where), prompt.strip() if prompt else None, values, where)


def _relative(file: str, where: str) -> str:
    path = PurePosixPath(file)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ConfigurationError(f"{where}: file {file!r} must be a path relative to the input folder")
    return str(path)
