"""The --draft preset, and fewer steps by default on the CPU, where a full edit takes far longer.

On the CPU one SD 1.5 evaluation at 512 px takes seconds and 50 steps cost about 350 of them: tens of
minutes. Unless the user chose --steps, the CPU gets the draft preset's steps (a first result in
minutes) and a note saying how to ask for the full count.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from freecure_edit.cure.config import DRAFT, CureConfig


def apply_presets(
    values: dict[str, Any], given: set[str], *, draft: bool, device_type: str
) -> tuple[dict[str, Any], list[str]]:
    """`values` with the preset applied to the fields the user did not set, and notes to show.

    The preset's steps are a ceiling on the model's own (`draft_steps`), not a count: FLUX.1-schnell's
    4 steps stay 4, SD's 50 become 20. Steps the user set are kept."""
    if not draft and device_type != "cpu":
        return values, []
    notes = []
    if given & {"steps", "draft_steps"} or values.get("steps") is not None:
        return values, []
    limit = DRAFT["steps"]
    if not draft:
        notes.append(
            f"running on the CPU, where a full edit takes far longer: using at most --steps {limit} instead of "
            "the model's own (50 on Stable Diffusion, 28 on FLUX.1-dev); pass --steps for the full quality"
        )
    return {**values, "draft_steps": limit}, notes


def config_defaults() -> dict[str, Any]:
    """CureConfig's keyword arguments at their defaults."""
    return {f.name: f.default for f in fields(CureConfig) if f.default is not MISSING}


def _flag(field_name: str) -> str:
    """The command-line option of a field, as the notes name it (tests/test_cli_options.py checks them)."""
    return "--" + field_name.replace("_", "-")


DRAFT_HELP = (f"A quick look: at most {_flag('steps')} {DRAFT['steps']} (fewer where the model's own are fewer) "
              "unless given. On the CPU this is the default.")
