"""Which steps of a cure's photo pass run, from the settings and the prompt alone.

The pipeline follows it, and the CLI's estimate counts evaluations from it, without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from freecure_edit.cure.config import CureConfig
from freecure_edit.prompts import ParsedPrompt


@dataclass(frozen=True)
class PhotoPassPlan:
    """Which steps of the photo pass run: `first` is the first one evaluated (before it nothing acts,
    so with the exact front end the photo's trajectory is the pass), APG branches at `branch_from`
    and runs `apg_steps` steps (re-inverted instead, with apg="reinvert")."""

    first: int
    branch_from: int
    apg_steps: int


def photo_pass_plan(config: CureConfig, parsed: ParsedPrompt, exact: bool, mask_empty: bool = False
                    ) -> PhotoPassPlan:
    """The photo pass's plan for `parsed` under `config`; the CLI's estimate counts from it too."""
    steps = config.steps
    apg_steps = apg_step_count(parsed, min(1.0, config.gamma * config.strength), steps)
    branch_from = steps - apg_steps if config.apg == "branch" else steps
    if not exact:
        return PhotoPassPlan(0, branch_from, apg_steps)
    acts = config.strength > 0 and bool(parsed.spatial) and not mask_empty
    if config.method == "fasa":
        starts = min(fasa_steps(config), default=steps) if acts else steps
    else:
        starts = rofa_start_step(config) if acts and config.rofa_weight > 0 else steps
    if acts and fd_blend_steps(config) > 0:
        starts = 0  # the foundation's latent is put in from the first step
    return PhotoPassPlan(min(starts, branch_from, steps), branch_from, apg_steps)


def apg_step_count(parsed: ParsedPrompt, gamma: float, steps: int) -> int:
    if not parsed.abstract:
        return 0
    return int(round(gamma * steps))


def fasa_steps(config: CureConfig) -> set[int]:
    start, end = config.fasa_steps
    steps = config.steps
    return {i for i in range(steps) if start * steps <= i < end * steps}


def rofa_start_step(config: CureConfig) -> int:
    return int(round(config.rofa_start * config.steps))


def fd_blend_steps(config: CureConfig) -> int:
    """round(fd_blend * steps): the photo branch's steps that start from the foundation's latent (None,
    a config not yet resolved, counts as 0)."""
    return int(round((config.fd_blend or 0.0) * config.steps))
