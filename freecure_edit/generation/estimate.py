"""How many denoiser evaluations a generation needs, phase by phase (as `GenerationResult.stats` counts).

For N steps, rows(g) = 2 under classifier-free guidance g != 1, 1 at g = 1:
- generation: N (rows(g_pd) + rows(g_fd)): PD and FD in one batch;
- fasa: N rows(g_pd): PD again, FD's keys and values from the cache;
- apg, only with an abstract attribute: A + A rows(g_pd), A = round(min(1, gamma strength) N): a
  guidance-1 DDIM re-inversion with the template, then A guided steps with the prompt.
At the defaults that is 6N + 3A: a plain guided generation is 2N, so the cure costs 3x it, 3.75x with APG
at gamma 0.5. A second generation with the same reference and seed costs all of it again.
"""

from __future__ import annotations

import torch

from freecure_edit.backbones.base import with_identity
from freecure_edit.cure.config import CureConfig
from freecure_edit.cure.estimate import Estimate, apg_steps
from freecure_edit.prompts import ParsedPrompt


def _rows(guidance: float) -> int:
    return 1 if guidance == 1.0 else 2


def generation_evaluations(config: CureConfig, parsed: ParsedPrompt) -> Estimate:
    """The evaluations of one generation under `config` (resolved to the model: steps and guidance set)."""
    steps, pd_rows = config.steps, _rows(config.photo_guidance)
    evaluations = {"generation": steps * (pd_rows + _rows(config.guidance)), "fasa": steps * pd_rows}
    count = apg_steps(config, parsed)
    if count:
        evaluations["apg"] = count + count * pd_rows
    return Estimate(evaluations)


def generation_phases(config: CureConfig, parsed: ParsedPrompt) -> list[tuple[str, int]]:
    """The phases a generation reports to `progress(phase, done, total)`, in order, with their totals."""
    plan = [("generation", config.steps), ("masks", 1), ("fasa-generation", config.steps)]
    count = apg_steps(config, parsed)
    if count:
        plan.append(("apg", 2 * count))
    return plan


def zero_identity(backbone, adapter, features=None):
    """For timing an evaluation before the reference is read: a function giving every row of a prompt
    pair a zero identity embedding of the adapter's length and, for FaceID Plus, `features`' unconditional
    half (the reference's (cond, uncond) features, which fix the token count)."""
    zero = torch.zeros(1, 1, adapter.id_dim, device=backbone.device)
    shared = None if features is None else (features[1], features[1])
    return lambda pair: with_identity(pair, zero, zero, shared)
