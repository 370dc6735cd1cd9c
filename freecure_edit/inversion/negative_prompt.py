"""Negative-prompt inversion (Miyake et al., 2023): no optimisation, no extra evaluations.

Null-text inversion's optimised unconditional embeddings come out close to the source prompt's own
embedding, so this method uses that embedding as the negative prompt while sampling. With the source
prompt itself, guidance then cancels and sampling retraces a guidance-1 DDIM inversion; with an edited
prompt, the source prompt is what guidance pushes away from.
"""

from __future__ import annotations

from freecure_edit.backbones.base import PromptPair
from freecure_edit.inversion.base import Inversion


class NegativePromptInversion(Inversion):
    method = "negative-prompt"

    def sampling_conditioning(self, i: int, pair: PromptPair, guidance_scale: float) -> PromptPair:
        return pair.with_uncond(self.prompt_pair.cond)
