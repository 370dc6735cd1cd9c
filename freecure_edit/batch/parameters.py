"""The parameters of one input's cure and their hash: two runs with the same hash make the same image,
so `--resume` may keep an earlier result whose hash matches."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from freecure_edit.batch.files import output_intact, same_input


def parameter_hash(parameters: dict[str, Any]) -> str:
    """A short hash of `parameters`, independent of the order of its keys."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def is_done(previous: dict[str, Any] | None, output: str, digest: str, input_path: Path, output_path: Path) -> bool:
    """Whether `--resume` keeps an input's earlier result: it succeeded, with the same parameters, from
    the same input content (see files.py), into the output this run would write, which still opens."""
    return (
        previous is not None
        and previous.get("status") == "ok"
        and previous.get("parameters_hash") == digest
        and previous.get("output") == output
        and same_input(previous.get("input_file"), input_path)
        and output_intact(previous.get("output_file"), output_path)
    )
