"""What `fix` tells the user: the estimate before, the one-line summary or the JSON result after."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from freecure_edit.cli.estimate import Estimate
from freecure_edit.errors import IdentityBelowThresholdError


def format_duration(seconds: float) -> str:
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def estimate_line(estimate: Estimate, device_type: str) -> str:
    seconds = estimate.seconds
    bound = "up to" if estimate.upper_bound else "about"
    evaluations = f"{estimate.total_evaluations} denoiser evaluations"
    if seconds is None:
        return f"the cure needs {bound} {evaluations}"
    each = format_duration(estimate.seconds_per_evaluation)
    line = f"estimated time {bound} {format_duration(seconds)} on the {device_type.upper()}: {evaluations} x {each}"
    if estimate.retries:
        line += f"; each of up to {estimate.retries} identity retries takes as long again"
    return line


def summary_line(attributes: list, faces: int, output: Path, identity: float | None, seconds: float) -> str:
    cured = ", ".join(repr(attribute.text) for attribute in attributes) or "nothing"
    where = f" on {faces} faces" if faces > 1 else ""
    parts = [f"cured {cured}{where} -> {output}"]
    if identity is not None:
        parts.append(f"identity similarity {identity:.2f}")
    parts.append(format_duration(seconds))
    return "; ".join(parts)


def identity_failure(result, setting: str, kept: str) -> IdentityBelowThresholdError | None:
    """The failure of a cure whose identity stayed below `min_identity` (named `setting` to the user)
    although its closest attempt was kept (`kept` says where); None when it did not."""
    if not result.below_threshold:
        return None
    return IdentityBelowThresholdError(
        f"identity similarity {result.identity_similarity:.3f} is below {setting} {result.config.min_identity:g} "
        f"after {result.attempts} attempt(s); the closest one {kept}"
    )


def result_json(summary: dict[str, Any], failure: Exception | None, **fields: Any) -> str:
    """The JSON of a run that wrote its output; `failure` is set when it still failed (identity too low)."""
    status = {"ok": True} if failure is None else {"ok": False, "exit_code": failure.exit_code, "error": str(failure)}
    return json.dumps({**status, **fields, **summary}, ensure_ascii=False, default=str)


def failure_json(exit_code: int, message: str) -> str:
    return json.dumps({"ok": False, "exit_code": exit_code, "error": message}, ensure_ascii=False)
