"""The parameters of one input's cure and their hash: two runs with the same hash make the same image,
so `--resume` may keep an earlier result whose hash matches."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def parameter_hash(parameters: dict[str, Any]) -> str:
    """A short hash of `parameters`, independent of the order of its keys."""
    canonical = json.dumps(parameters, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def is_done(previous: dict[str, Any] | None, output: str, digest: str, output_exists: bool) -> bool:
    """Whether `--resume` keeps an input's earlier result: it succeeded, with the same parameters, into
    the output this run would write, and that file is still there."""
    return (
        previous is not None
        and previous.get("status") == "ok"
        and previous.get("parameters_hash") == digest
        and previous.get("output") == output
        and output_exists
    )
