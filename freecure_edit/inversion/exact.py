"""Exact reconstruction by per-step corrections (the idea of Direct Inversion, Ju et al., ICLR 2024).

DDIM inversion alone drifts: sampling from z_T does not land on the photo, the more so under strong
guidance. Here the sampler stores, for each step i, its own noise prediction at the trajectory point
(its "anchor", under the prompt and guidance it samples with). A step from any latent z is then

    z_next = latents[i + 1] + a * (z - latents[i]) + b * (noise - anchor[i])

which is the DDIM step written as "trajectory plus deviation". On the trajectory both differences are
exactly zero, so reconstruction is exact to the last bit. The algebraically equal form
`step(z) + (latents[i + 1] - step(latents[i]))` is not: its rounding error is amplified step after step
(1e5-fold on random weights, see OFFLINE.md).
"""

from __future__ import annotations

import torch

from freecure_edit.backbones.base import PromptPair
from freecure_edit.inversion.base import Inversion

AnchorKey = tuple[str, str, float]


def anchor_key(pair: PromptPair, guidance_scale: float) -> AnchorKey:
    return (pair.prompt, pair.negative_prompt, float(guidance_scale))


class ExactInversion(Inversion):
    method = "exact"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._anchors: dict[AnchorKey, list[torch.Tensor | None]] = {}

    def has_anchors(self, pair: PromptPair, guidance_scale: float) -> bool:
        anchors = self._anchors.get(anchor_key(pair, guidance_scale))
        return anchors is not None and all(anchor is not None for anchor in anchors)

    def store_anchor(self, pair: PromptPair, guidance_scale: float, i: int, noise: torch.Tensor):
        """Record the sampler's prediction at `latents[i]`, when a caller computed it in its own batch."""
        key = anchor_key(pair, guidance_scale)
        anchors = self._anchors.setdefault(key, [None] * self.num_steps)
        anchors[i] = noise.detach()

    def prepare_sampling(self, pair: PromptPair, guidance_scale: float) -> None:
        """Compute the anchors still missing for this prompt and guidance.

        For a new prompt or guidance that is N evaluations, or 2N with guidance; for the inversion's
        own, only step 0's, since the inversion recorded the rest.
        """
        key = anchor_key(pair, guidance_scale)
        anchors = self._anchors.setdefault(key, [None] * self.num_steps)
        with torch.no_grad():
            for i in range(self.num_steps):
                if anchors[i] is None:
                    anchors[i] = self.predict_noise(i, self.latents[i], pair, guidance_scale)

    def next_latent(
        self,
        i: int,
        z: torch.Tensor,
        noise: torch.Tensor,
        pair: PromptPair,
        guidance_scale: float,
        release: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The corrected step from `z`; `release` (broadcastable to z, in [0, 1]) takes that share of
        the correction away where it is set, so that there the step is the plain one: a * z + b * noise."""
        anchors = self._anchors.get(anchor_key(pair, guidance_scale))
        if anchors is None or anchors[i] is None:
            raise RuntimeError(
                f"no correction for step {i} under this prompt and guidance; call prepare_sampling first"
            )
        a, b = self.schedule.step_coefficients(i)
        corrected = self.latents[i + 1] + a * (z - self.latents[i]) + b * (noise - anchors[i])
        if release is None:
            return corrected
        correction = self.latents[i + 1] - (a * self.latents[i] + b * anchors[i])
        return corrected - release * correction
