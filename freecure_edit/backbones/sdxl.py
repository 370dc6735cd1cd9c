"""SDXL: two CLIP text encoders, a pooled embedding and size micro-conditioning."""

from __future__ import annotations

import torch

from freecure_edit.backbones.base import (
    IDENTITY_EMBEDS, IDENTITY_FEATURES, Conditioning, PromptPair, identity_conditions,
)
from freecure_edit.backbones.sd import StableDiffusionBackbone
from freecure_edit.models.defaults import SDXL_DEFAULTS


class StableDiffusionXLBackbone(StableDiffusionBackbone):
    kind = "sdxl"
    model_defaults = SDXL_DEFAULTS

    def encode_prompt(
        self, prompt: str, negative_prompt: str = "", image_size: tuple[int, int] | None = None
    ) -> PromptPair:
        with torch.no_grad():
            cond, uncond, pooled, pooled_uncond = self.pipe.encode_prompt(
                prompt,
                device=self.device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=True,
                negative_prompt=negative_prompt,
            )
        time_ids = self._time_ids(image_size, cond.dtype)
        return PromptPair(
            Conditioning(cond, {"text_embeds": pooled, "time_ids": time_ids}),
            Conditioning(uncond, {"text_embeds": pooled_uncond, "time_ids": time_ids}),
            prompt,
            negative_prompt,
        )

    def _time_ids(self, image_size: tuple[int, int] | None, dtype: torch.dtype) -> torch.Tensor:
        # The photo is neither cropped nor resized by the model: original and target size are its own.
        width, height = image_size or (self.native_size, self.native_size)
        projection_dim = self.pipe.text_encoder_2.config.projection_dim
        time_ids = self.pipe._get_add_time_ids(
            (height, width), (0, 0), (height, width), dtype=dtype,
            text_encoder_projection_dim=projection_dim,
        )
        return time_ids.to(self.device)

    def _added_conditions(self, conditioning: Conditioning, dtype: torch.dtype) -> dict:
        added = {key: value.to(dtype) for key, value in conditioning.extras.items() if key not in (IDENTITY_EMBEDS, IDENTITY_FEATURES)}
        return {**added, **identity_conditions(conditioning, dtype)}
