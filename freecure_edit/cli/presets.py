"""The --draft preset, and fewer steps by default on the CPU, where a full edit takes far longer.

On the CPU one SD 1.5 evaluation at 512 px takes seconds and 50 steps cost about 350 of them: tens of
minutes. Unless the user chose --steps, the CPU gets the draft preset's steps (a first result in
minutes) and a note saying how to ask for the full count.
"""

from __future__ import annotations

from typing import Any

from freecure_edit.cli.config_options import CONFIG_OPTIONS
from freecure_edit.config import DRAFT

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


def _flag(field_name: str) -> str:
    return CONFIG_OPTIONS[field_name].flag.split("/")[0]


_DRAFT_TEXT = ", ".join(f"{_flag(key)} {value}" for key, value in DRAFT.items())
DRAFT_HELP = f"A quick look: {_DRAFT_TEXT} unless given. On the CPU this is the default."
