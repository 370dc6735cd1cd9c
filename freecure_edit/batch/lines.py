"""The manifest line of one input. Every line has the same keys:

input, output (POSIX paths relative to the input and output folders; a name that is not valid
UTF-8 is shown with U+FFFD, and input_bytes / output_bytes then hold its exact bytes, percent-encoded,
else null), status (ok, failed,
low_identity, skipped), prompt, attributes (the phrases cured), identity_similarity (None without a
face recogniser), seconds, error and exit_code (what `fix` would have said and exited with; None and
0 when it went well), warnings, renamed_from (the output's name without a collision, else None),
parameters and parameters_hash (see item_parameters.py), input_file (the input's sha256, size and
mtime_ns when it was cured) and output_file (the output's size and mtime_ns as written), which
--resume checks (freecure_edit/batch/files.py), process (which process of the batch did it) and
finished_at (UTC).
"""

from __future__ import annotations

from typing import Any

from freecure_edit.batch.manifest import now
from freecure_edit.batch.plan import BatchItem

INTERRUPTED = "not cured: the batch was stopped before this image"
ABANDONED = "not cured: the batch was stopped while this image was being cured"


def manifest_line(item: BatchItem, parameters: dict[str, Any], digest: str, status: str, *, process: int,
                  seconds: float = 0.0, error: str | None = None, exit_code: int | None = 0,
                  identity: float | None = None, attributes: list[str] | None = None,
                  warnings: list[str] | None = None, input_file: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    return {
        "input": item.input,
        "output": item.output,
        "status": status,
        "prompt": item.prompt,
        "attributes": attributes if attributes is not None else [a.text for a in item.parsed.attributes],
        "identity_similarity": identity,
        "seconds": round(seconds, 3),
        "error": error,
        "exit_code": exit_code,
        "warnings": warnings or [],
        "renamed_from": item.renamed_from,
        "parameters_hash": digest,
        "parameters": parameters,
        "input_file": input_file,
        "output_file": None,
        "process": process,
        "finished_at": now(),
    }


def skipped_line(item: BatchItem, parameters: dict[str, Any], digest: str, *, process: int,
                 abandoned: bool = False) -> dict[str, Any]:
    """The line of an input a stop left out: not reached, or `abandoned` while it was being cured."""
    return manifest_line(item, parameters, digest, "skipped", process=process,
                         error=ABANDONED if abandoned else INTERRUPTED, exit_code=None)
