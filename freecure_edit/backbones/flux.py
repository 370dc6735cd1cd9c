"""FLUX.1 (dev and schnell): a guidance-distilled rectified-flow transformer over packed latents.

The front ends see FLUX latents as they see SD's: (B, 16, h, w) tensors at the autoencoder's grid, so
masks, trajectories and corrections stay two-dimensional. Only `denoise` packs them into 2x2 patches
(h/2 * w/2 tokens, row-major, the order FluxPipeline uses), builds the image position ids, calls the
transformer and unpacks its velocity.

There is no classifier-free guidance: dev takes the guidance value as an embedding (one row per
prediction, whatever the guidance), schnell takes none. The conditioning rows carry it in
`extras["guidance"]`, so one batch can mix rows at different guidance values.
"""

from __future__ import annotations

import torch

from freecure_edit.backbones.base import Conditioning, DenoiserCounter, PromptPair
from freecure_edit.backbones.sd import StableDiffusionBackbone
from freecure_edit.models.defaults import FLUX_DEV_DEFAULTS, FLUX_SCHNELL_DEFAULTS, ModelDefaults
from freecure_edit.schedules.flow import FlowSchedule, flow_schedule

# FluxPipeline's defaults: dev was trained with T5 sequences of 512 tokens, schnell with 256.
DEV_MAX_SEQUENCE_LENGTH = 512
SCHNELL_MAX_SEQUENCE_LENGTH = 256


def pack_latents(latents: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) -> (B, h/2 * w/2, 4C): each 2x2 patch one token, tokens in row-major order."""
    batch, channels, height, width = latents.shape
    patches = latents.view(batch, channels, height // 2, 2, width // 2, 2).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(batch, (height // 2) * (width // 2), channels * 4)


def unpack_latents(tokens: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The inverse of `pack_latents` for a (h, w) latent."""
    batch, _, features = tokens.shape
    patches = tokens.view(batch, height // 2, width // 2, features // 4, 2, 2).permute(0, 3, 1, 4, 2, 5)
    return patches.reshape(batch, features // 4, height, width)


def image_position_ids(height: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """(h/2 * w/2, 3) RoPE positions of the packed tokens: (0, row, column), as FluxPipeline builds them."""
    ids = torch.zeros(height // 2, width // 2, 3)
    ids[..., 1] = torch.arange(height // 2)[:, None]
    ids[..., 2] = torch.arange(width // 2)[None, :]
    return ids.reshape(-1, 3).to(device=device, dtype=dtype)


class FluxBackbone(StableDiffusionBackbone):
    """The same surface as the SD backbones (prompts, `denoise`, pixels <-> latents) for FluxPipeline."""

    kind = "flux"
    uses_guidance = False  # no classifier-free guidance rows; see the module docstring

    def __init__(self, pipe, max_sequence_length: int | None = None):
        self.pipe = pipe
        self.transformer = pipe.transformer
        self.vae = pipe.vae
        self.counter = DenoiserCounter()
        self.has_guidance_embedding = bool(self.transformer.config.guidance_embeds)
        default_length = DEV_MAX_SEQUENCE_LENGTH if self.has_guidance_embedding else SCHNELL_MAX_SEQUENCE_LENGTH
        limit = getattr(pipe.tokenizer_2, "model_max_length", None)
        # A tokenizer saved without a length reports int(1e30): FLUX's own length then.
        stated = limit if isinstance(limit, int) and 0 < limit < default_length else default_length
        self.max_sequence_length = int(max_sequence_length or stated)

    @property
    def model_defaults(self) -> ModelDefaults:
        """dev's settings with a guidance embedding, schnell's (4 steps, no guidance) without."""
        return FLUX_DEV_DEFAULTS if self.has_guidance_embedding else FLUX_SCHNELL_DEFAULTS

    # -- geometry -------------------------------------------------------------------------------

    @property
    def native_size(self) -> int:
        return int(self.pipe.default_sample_size) * self.vae_scale_factor

    @property
    def attention_model(self) -> torch.nn.Module:
        return self.transformer

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this: the autoencoder's factor times the 2x2 packing."""
        return self.vae_scale_factor * 2

    def snapped_size(self, width: int, height: int) -> tuple[int, int]:
        factor = self.size_multiple
        if width < factor or height < factor:
            raise ValueError(f"the image must be at least {factor}x{factor} pixels")
        return width - width % factor, height - height % factor

    def image_tokens(self, latent_size: tuple[int, int]) -> int:
        return (latent_size[0] // 2) * (latent_size[1] // 2)

    # -- prompts --------------------------------------------------------------------------------

    @property
    def attention_tokenizer(self):
        """The tokenizer whose tokens are the text part of the joint attention sequence (T5's)."""
        return self.pipe.tokenizer_2

    def encode_prompt(
        self, prompt: str, negative_prompt: str = "", image_size: tuple[int, int] | None = None
    ) -> PromptPair:
        """T5 sequence and pooled CLIP embedding. FLUX has no unconditional branch: `uncond` is `cond`,
        unless a negative prompt is given, for true classifier-free guidance (FluxPipeline's
        `true_cfg_scale`): then `uncond` is the negative prompt's own encoding."""
        cond = self._encode(prompt)
        uncond = self._encode(negative_prompt) if negative_prompt else cond
        return PromptPair(cond, uncond, prompt, negative_prompt)

    def _encode(self, prompt: str) -> Conditioning:
        with torch.no_grad():
            sequence, pooled, _ = self.pipe.encode_prompt(
                prompt=prompt, prompt_2=None, device=self.device, num_images_per_prompt=1,
                max_sequence_length=self.max_sequence_length,
            )
        return Conditioning(sequence, {"pooled": pooled})

    def with_guidance(self, conditioning: Conditioning, guidance_scale: float) -> Conditioning:
        """The rows of `conditioning`, each told to predict at `guidance_scale` (ignored by schnell)."""
        guidance = torch.full((conditioning.rows,), float(guidance_scale), device=conditioning.hidden_states.device)
        return Conditioning(conditioning.hidden_states, {**conditioning.extras, "guidance": guidance})

    # -- denoiser -------------------------------------------------------------------------------

    def schedule(self, num_steps: int, latent_size: tuple[int, int] | None = None) -> FlowSchedule:
        """FLUX's sigmas, shifted for the image size (the native size when none is given)."""
        if latent_size is None:
            side = self.native_size // self.vae_scale_factor
            latent_size = (side, side)
        return flow_schedule(self.pipe.scheduler.config, num_steps, self.image_tokens(latent_size))

    def denoise(self, latents: torch.Tensor, timestep: float, conditioning: Conditioning) -> torch.Tensor:
        """The velocity for each row, unpacked to (B, 16, h, w), in float32."""
        rows = latents.shape[0]
        if rows != conditioning.rows:
            raise ValueError(f"{rows} latent rows but {conditioning.rows} conditioning rows")
        self.counter.evaluations += rows
        self.counter.calls += 1
        height, width = latents.shape[-2:]
        dtype, device = self.transformer.dtype, self.device
        guidance = None
        if self.has_guidance_embedding:
            guidance = conditioning.extras.get("guidance")
            if guidance is None:
                raise ValueError("FLUX dev needs a guidance value per row; use FluxBackbone.with_guidance")
            guidance = guidance.to(device=device, dtype=torch.float32)
        text = conditioning.hidden_states.to(device=device, dtype=dtype)
        output = self.transformer(
            hidden_states=pack_latents(latents.to(device=device, dtype=dtype)),
            timestep=torch.full((rows,), float(timestep) / 1000.0, device=device, dtype=dtype),
            guidance=guidance,
            pooled_projections=conditioning.extras["pooled"].to(device=device, dtype=dtype),
            encoder_hidden_states=text,
            txt_ids=torch.zeros(text.shape[1], 3, device=device, dtype=dtype),
            img_ids=image_position_ids(height, width, device, dtype),
            return_dict=False,
        )[0]
        return unpack_latents(output, height, width).float()
