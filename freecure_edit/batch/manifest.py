"""manifest.jsonl: one JSON line per input of the batch, the latest outcome of each.

While a batch runs, each process appends its lines to a shard of its own, each line written with one
system call and fsync'ed, so that a killed process loses at most the line of the image in flight (a
torn last line is skipped when read). Shards are merged into manifest.jsonl under the folder's lock:
by the main process once every process has finished, by each process when it is interrupted, and at
the start of the next run (whatever a killed run left). The manifest is always rewritten whole.
The latest line of an input wins, by the time it was written: a shard another process merged may
still be there, older than the manifest's line. For the same time, the shard's line wins over the
manifest's copy of it.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from freecure_edit.batch.folder import BatchFolder
from freecure_edit.batch.names import exact_bytes, from_fields, readable, readable_values

STATUSES = ("ok", "failed", "low_identity", "skipped")
# Fields holding a file name: stored readable, with the exact bytes in "<field>_bytes" (see names.py).
NAME_FIELDS = ("input", "output")


def now() -> str:
    """The time a line is written: UTC, so that the text sorts as the times do."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def read_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The lines of a manifest or shard in file order, and how many could not be read (torn by a kill)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    lines, unreadable = [], 0
    for text in raw.splitlines():
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            unreadable += 1
            continue
        if isinstance(line, dict) and isinstance(line.get("input"), str) and line.get("status") in STATUSES:
            lines.append(_decoded(line))
        else:
            unreadable += 1
    return lines, unreadable


def _decoded(line: dict[str, Any]) -> dict[str, Any]:
    """A line as read, with its names exact again (the file system's text, surrogates included)."""
    decoded = dict(line)
    for field in NAME_FIELDS:
        raw = decoded.pop(f"{field}_bytes", None)
        if isinstance(decoded.get(field), str):
            decoded[field] = from_fields(decoded[field], raw if isinstance(raw, str) else None)
    return decoded


def encode_line(line: dict[str, Any]) -> bytes:
    """The line as UTF-8 JSON, whatever its names: each name field readable, followed by its exact
    bytes (null when the name is valid UTF-8); every other text made readable too."""
    stored: dict[str, Any] = {}
    for key, value in line.items():
        if key in NAME_FIELDS and isinstance(value, str):
            stored[key] = readable(value)
            stored[f"{key}_bytes"] = exact_bytes(value)
        else:
            stored[key] = readable_values(value)
    return (json.dumps(stored, ensure_ascii=False, default=str) + "\n").encode("utf-8")


class ShardWriter:
    """Appends lines to one process's shard, each durable once `append` returns."""

    def __init__(self, path: Path):
        self.path = path
        self._descriptor = -1  # opened by the first line: a process with nothing to do leaves no file

    def append(self, line: dict[str, Any]) -> None:
        """Raises OSError naming the shard when the line cannot be written (a full disk, mostly)."""
        data = encode_line(line)
        try:
            if self._descriptor < 0:
                self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            written = os.write(self._descriptor, data)
            while written < len(data):  # a short write: rare, but the line must be whole
                written += os.write(self._descriptor, data[written:])
            os.fsync(self._descriptor)
        except OSError as error:
            if error.filename is not None:
                raise
            raise OSError(error.errno, error.strerror, os.fspath(self.path)) from error

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1


@dataclass(frozen=True)
class Merged:
    lines: dict[str, dict[str, Any]]  # input -> its latest line
    unreadable: int  # torn or foreign lines that were left out
    shards: list[Path]  # the shards read


def collect(folder: BatchFolder) -> Merged:
    """The manifest with every shard folded in, without writing anything (a dry run reads this)."""
    lines, unreadable = read_lines(folder.manifest)
    shard_paths = folder.shard_files()
    from_shards = []
    for shard in shard_paths:
        found, torn = read_lines(shard)
        from_shards.extend(found)
        unreadable += torn
    # A stable sort: for the same time, the shard's line (after the manifest's) wins.
    ordered = sorted(lines + from_shards, key=lambda line: str(line.get("finished_at", "")))
    latest: dict[str, dict[str, Any]] = {}
    for line in ordered:
        latest[line["input"]] = line
    return Merged(latest, unreadable, shard_paths)


def merge_shards(folder: BatchFolder, delete: list[Path] | None = None) -> Merged:
    """Fold every shard into manifest.jsonl and delete the shards in `delete` (those whose writers have
    finished: `None` means all of them). Safe to run from several processes at once, and again."""
    with folder.locked():
        merged = collect(folder)
        if merged.lines or folder.manifest.exists():
            ordered = sorted(merged.lines, key=lambda name: PurePosixPath(name).parts)
            folder.write_manifest("".join(encode_line(merged.lines[name]).decode("utf-8") for name in ordered))
        for shard in merged.shards if delete is None else delete:
            try:
                shard.unlink()
            except FileNotFoundError:
                pass
    return merged


def latest_lines(folder: BatchFolder) -> dict[str, dict[str, Any]]:
    """The manifest's line per input (call after a merge)."""
    lines, _ = read_lines(folder.manifest)
    return {line["input"]: line for line in lines}
