"""Where the foundation branch (FD) starts, and which trajectory it follows at first (issue 27, item 4).

The photo's trajectory is the inversion's recorded latents, latents[0] (z_T) ... latents[N] (z_0), under
every front end: the exact front end's photo branch retraces it bit for bit, null-text's optimised
embeddings make the guided sampler retrace it up to their loss, and ddim and negative-prompt sampling
drift from it (it is still the photo's own DDIM inversion, at guidance 1, with the template).

- fd_noise "inverted", fd_start 0 (the default): FD from z_T, with the photo branch's exact corrections
  when `fd_corrections` (DESIGN.md section 2, step 4).
- fd_start s > 0: at steps i < k = round(s N) FD's latent is latents[i]. It predicts there with the full
  prompt, so that FASA reads its keys and values, ROFA its noise and the masks its attention, but its
  move is not taken; from step k it starts at latents[k] and steps on its own, with the corrections as
  above (they are zero on the trajectory, so from latents[k] they act exactly as they would have from
  z_T). FD is then the photo's inversion edited from level k on, as SDEdit edits from a noised photo.
  The evaluations are the same. k may round up to N: FD is then the photo itself, and the result warns.
- fd_noise "fresh": FD from Gaussian noise drawn on the CPU with `fd_seed` (the same noise on any
  device), sampled plainly, as the paper generates: the corrections belong to the photo's trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from freecure_edit.cure.config import CureConfig
from freecure_edit.inversion import ExactInversion, Inversion


@dataclass(frozen=True)
class FoundationStart:
    """The foundation branch's latent before step 0, how many steps it shares the photo's trajectory
    for (`shared_steps`, k), and whether its own steps take the exact front end's corrections."""

    initial: torch.Tensor
    shared_steps: int
    corrections: bool
    fresh: bool

    def latent_at(self, i: int, z: torch.Tensor, inversion: Inversion) -> torch.Tensor:
        """FD's latent at step i: the photo's own up to step k, then where its own steps left it."""
        if self.fresh or i > self.shared_steps:
            return z
        return inversion.latents[i]


def shared_steps(config: CureConfig) -> int:
    """k = round(fd_start * steps): the steps before FD's first own step."""
    return int(round(config.fd_start * config.steps))


def foundation_start(config: CureConfig, inversion: Inversion) -> FoundationStart:
    fresh = config.fd_noise == "fresh"
    corrections = config.fd_corrections and isinstance(inversion, ExactInversion) and not fresh
    initial = fresh_noise(inversion.zT, config.fd_seed) if fresh else inversion.zT
    return FoundationStart(initial, 0 if fresh else shared_steps(config), corrections, fresh)


def fresh_noise(like: torch.Tensor, seed: int) -> torch.Tensor:
    """Standard Gaussian noise shaped as `like`, drawn on the CPU in float32 so that a seed gives the same
    noise on every device and dtype (z_T of SD's DDIM and FLUX's flow at sigma 1 are both N(0, I))."""
    generator = torch.Generator("cpu").manual_seed(seed)
    noise = torch.randn(tuple(like.shape), generator=generator, dtype=torch.float32)
    return noise.to(device=like.device, dtype=like.dtype)


def foundation_warnings(config: CureConfig, inversion: Inversion) -> list[str]:
    """What fd_start and fd_noise cannot do here, said once."""
    warnings = []
    if config.fd_noise == "fresh":
        message = (
            f"fd_noise 'fresh': the foundation branch starts from fresh noise (fd_seed {config.fd_seed}), not "
            "the photo's inverted noise, so its face is laid out on its own; FASA lends the foundation's keys "
            "by position, so where the two faces differ in place it carries the attribute from the wrong place"
        )
        if config.mask_source != "fd":
            message += (f"; with mask_source {config.mask_source!r} the masks also cover the photo's region, "
                        "where the foundation image may show something else")
        if config.fd_corrections and isinstance(inversion, ExactInversion):
            message += "; the exact front end's corrections follow the photo's trajectory and are not used"
        warnings.append(message)
    k = shared_steps(config)
    if config.fd_noise == "inverted" and k >= config.steps:
        warnings.append(
            f"fd_start {config.fd_start:g} rounds to all {config.steps} steps: the foundation branch keeps the "
            "photo's trajectory throughout and draws nothing of the prompt"
        )
    return warnings
