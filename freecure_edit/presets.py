"""The --draft preset, and fewer steps by default on the CPU, where a full edit takes far longer.

On the CPU one SD 1.5 evaluation at 512 px takes seconds and 50 steps cost about 350 of them: tens of
minutes. Unless the user chose --steps, the CPU gets the draft preset's steps (a first result in
minutes) and a note saying how to ask for the full count.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from freecure_edit.config import DRAFT, CureConfig

CPU_PRESET = DRAFT


def apply_presets(
    values: dict[str, Any], given: set[str], *, draft: bool, device_type: str
) -> tuple[dict[str, Any], list[str]]:
    """`values` with the preset applied to the fields the user did not set, and notes to show."""
    if draft:
        preset, notes = DRAFT, []
    elif device_type == "cpu":
        preset, notes = CPU_PRESET, []
    else:
        return values, []
    changed = {key: value for key, value in preset.items() if key not in given and values.get(key) != value}
    if not draft and changed:
        before = ", ".join(f"{_flag(key)} {values[key]}" for key in changed)
        after = ", ".join(f"{_flag(key)} {value}" for key, value in changed.items())
        notes.append(
            f"running on the CPU, where a full edit takes far longer: using {after} instead of {before}; "
            f"pass {before} for the full quality"
        )
    return {**values, **changed}, notes


def config_defaults() -> dict[str, Any]:
    """CureConfig's keyword arguments at their defaults."""
    return {f.name: f.default for f in fields(CureConfig) if f.default is not MISSING}


def _flag(field_name: str) -> str:
    """The command-line option of a field, as the notes name it (tests/test_cli_options.py checks them)."""
    return "--" + field_name.replace("_", "-")


_DRAFT_TEXT = ", ".join(f"{_flag(key)} {value}" for key, value in DRAFT.items())
DRAFT_HELP = f"A quick look: {_DRAFT_TEXT} unless given. On the CPU this is the default."
