"""results.jsonl: one line per model x photo x prompt x method x seed, appended and fsync'ed as each
finishes, so that a killed run loses at most the result in flight and --resume continues from the rest.

A line that a kill tore is skipped when read; if a key appears twice (a run killed after its line was
written but before it could be known), the last line wins, so nothing is counted twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freecure_edit.batch.manifest import ShardWriter

RESULTS_NAME = "results.jsonl"
KEY_FIELDS = ("model", "photo", "prompt", "method", "seed")


def result_key(line: dict[str, Any]) -> tuple:
    return tuple(line.get(name) for name in KEY_FIELDS)


def read_results(path: Path) -> dict[tuple, dict[str, Any]]:
    """The lines of results.jsonl by key, the latest of each; torn or foreign lines left out."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    lines: dict[tuple, dict[str, Any]] = {}
    for text in raw.splitlines():
        try:
            line = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(line, dict) and all(name in line for name in KEY_FIELDS):
            lines[result_key(line)] = line
    return lines


def _cut_torn_tail(path: Path) -> None:
    """Drop what a kill left after the last complete line, so that the next line starts on its own."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as stream:
        data = stream.read()
        if data.endswith(b"\n"):
            return
        stream.truncate(data.rfind(b"\n") + 1)


class ResultsLog:
    """The results of a run: what earlier runs left (for --resume) and the lines of this one."""

    def __init__(self, folder: Path):
        self.path = folder / RESULTS_NAME
        self.lines = read_results(self.path)
        _cut_torn_tail(self.path)
        self._writer = ShardWriter(self.path)

    def done(self, key: tuple, settings_hash: str | None = None) -> bool:
        """Whether `key` has a line made under the same settings (a line of other settings is redone)."""
        line = self.lines.get(key)
        return line is not None and line.get("settings_hash") == settings_hash

    def append(self, line: dict[str, Any]) -> None:
        self._writer.append(line)
        self.lines[result_key(line)] = line

    def close(self) -> None:
        self._writer.close()
