"""What `fix` tells the user after the cure: the one-line summary or the JSON result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freecure_edit.cure.estimate import format_duration


def summary_line(attributes: list, faces: int, output: Path, identity: float | None, seconds: float) -> str:
    cured = ", ".join(repr(attribute.text) for attribute in attributes) or "nothing"
    where = f" on {faces} faces" if faces > 1 else ""
    parts = [f"cured {cured}{where} -> {output}"]
    if identity is not None:
        parts.append(f"identity similarity {identity:.2f}")
    parts.append(format_duration(seconds))
    return "; ".join(parts)


def result_json(summary: dict[str, Any], failure: Exception | None, **fields: Any) -> str:
    """The JSON of a run that wrote its output; `failure` is set when it still failed (identity too low)."""
    status = {"ok": True} if failure is None else {"ok": False, "exit_code": failure.exit_code, "error": str(failure)}
    return json.dumps({**status, **fields, **summary}, ensure_ascii=False, default=str)


def failure_json(exit_code: int, message: str) -> str:
    return json.dumps({"ok": False, "exit_code": exit_code, "error": message}, ensure_ascii=False)
