"""Stable Diffusion 1.x / 2.x: a UNet conditioned on one CLIP text encoder."""

from __future__ import annotations

import PIL.Image
import torch

from freecure_edit.backbones.base import (
    Conditioning, DenoiserCounter, PromptPair, identity_conditions, set_identity_features,
)
from freecure_edit.models.defaults import STABLE_DIFFUSION_DEFAULTS, ModelDefaults
from freecure_edit.schedules.ddim import DDIMSchedule, ddim_schedule


class StableDiffusionBackbone:
    kind = "sd"
    uses_guidance = True
    model_defaults: ModelDefaults = STABLE_DIFFUSION_DEFAULTS

    def __init__(self, pipe):
        self.pipe = pipe
        self.unet = pipe.unet
        self.vae = pipe.vae
        self.counter = DenoiserCounter()

    # -- geometry -------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.pipe._execution_device

    @property
    def vae_scale_factor(self) -> int:
        return self.pipe.vae_scale_factor

    @property
    def native_size(self) -> int:
        """The side in pixels the model was trained at (512 for SD 1.5, 1024 for SDXL)."""
        return int(self.unet.config.sample_size) * self.vae_scale_factor

    @property
    def size_multiple(self) -> int:
        """Working sizes are multiples of this: the autoencoder's factor times the UNet's downsamplings."""
        return self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def attention_model(self) -> torch.nn.Module:
        """The model whose attention processors a cure replaces (and a worker restores)."""
        return self.unet

    @property
    def attention_tokenizer(self):
        """The tokenizer whose tokens the cross-attention maps are indexed by."""
        return self.pipe.tokenizer

    def snapped_size(self, width: int, height: int) -> tuple[int, int]:
        """The largest size at or below (width, height) that the autoencoder accepts."""
        factor = self.vae_scale_factor
        if width < factor or height < factor:
            raise ValueError(f"the image must be at least {factor}x{factor} pixels")
        return width - width % factor, height - height % factor

    # -- prompts --------------------------------------------------------------------------------

    def encode_prompt(
        self, prompt: str, negative_prompt: str = "", image_size: tuple[int, int] | None = None
    ) -> PromptPair:
        with torch.no_grad():
            cond, uncond = self.pipe.encode_prompt(
                prompt,
                self.device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=True,
                negative_prompt=negative_prompt,
            )
        return PromptPair(Conditioning(cond), Conditioning(uncond), prompt, negative_prompt)

    # -- denoiser -------------------------------------------------------------------------------

    def schedule(self, num_steps: int) -> DDIMSchedule:
        return ddim_schedule(self.pipe.scheduler.config, num_steps)

    def denoise(
        self, latents: torch.Tensor, timestep: int, conditioning: Conditioning
    ) -> torch.Tensor:
        """The model's raw output for each row, in float32 whatever the model's precision."""
        if latents.shape[0] != conditioning.rows:
            raise ValueError(
                f"{latents.shape[0]} latent rows but {conditioning.rows} conditioning rows"
            )
        self.counter.evaluations += latents.shape[0]
        self.counter.calls += 1
        dtype = self.unet.dtype
        set_identity_features(self.unet, conditioning, dtype)
        output = self.unet(
            latents.to(device=self.device, dtype=dtype),
            timestep,
            encoder_hidden_states=conditioning.hidden_states.to(dtype),
            added_cond_kwargs=self._added_conditions(conditioning, dtype),
            return_dict=False,
        )[0]
        return output.float()

    def _added_conditions(self, conditioning: Conditioning, dtype: torch.dtype) -> dict | None:
        return identity_conditions(conditioning, dtype) or None

    # -- pixels <-> latents ---------------------------------------------------------------------

    def image_to_tensor(self, image: PIL.Image.Image) -> torch.Tensor:
        """An RGB image as a (1, 3, H, W) tensor in [-1, 1], snapped to the autoencoder's grid."""
        width, height = self.snapped_size(*image.size)
        return self.pipe.image_processor.preprocess(image.convert("RGB"), height=height, width=width)

    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """The clean latent z0: the mode of the autoencoder's posterior, scaled, in float32."""
        vae = self.vae
        with torch.no_grad():
            posterior = vae.encode(pixels.to(device=vae.device, dtype=vae.dtype)).latent_dist
            latents = posterior.mode()
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        return ((latents.float() - shift) * vae.config.scaling_factor).to(self.device)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Pixels in [-1, 1] as a float32 (B, 3, H, W) tensor."""
        vae = self.vae
        shift = getattr(vae.config, "shift_factor", None) or 0.0
        scaled = latents.float() / vae.config.scaling_factor + shift
        with torch.no_grad():
            pixels = vae.decode(scaled.to(device=vae.device, dtype=vae.dtype), return_dict=False)[0]
        return pixels.float()

    def tensor_to_image(self, pixels: torch.Tensor) -> PIL.Image.Image:
        return self.pipe.image_processor.postprocess(pixels.cpu(), output_type="pil")[0]
