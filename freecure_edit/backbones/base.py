"""What every backbone offers the front ends and the cure: prompts, denoiser, latents <-> pixels.

A backbone wraps a loaded diffusers pipeline. The front ends only ever call `denoise` with a batch of
latents and a batch of conditioning rows, so that any mix of branches (the foundation branch beside the
photo branch's corrections, say) shares one denoiser call. Rows of conditioning are concatenated with
`Conditioning.cat`. A flow-matching backbone (FLUX) fits the same shape: its `schedule` returns a flow
schedule, and it reports `uses_guidance = False` when guidance is distilled into the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch


@dataclass
class Conditioning:
    """The text conditioning of one or more batch rows."""

    hidden_states: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.hidden_states.shape[0]

    @staticmethod
    def cat(items: list["Conditioning"]) -> "Conditioning":
        extras = {
            key: torch.cat([item.extras[key] for item in items]) for key in items[0].extras
        }
        return Conditioning(torch.cat([item.hidden_states for item in items]), extras)

    def repeat(self, count: int) -> "Conditioning":
        return Conditioning.cat([self] * count)

    def detached(self) -> "Conditioning":
        return Conditioning(
            self.hidden_states.detach().clone(),
            {key: value.detach().clone() for key, value in self.extras.items()},
        )


# The Conditioning.extras key of an IP-Adapter's identity embedding, one (1, embedding) row per batch row:
# generation inside IP-Adapter FaceID (freecure_edit/generation) gives each row its own, so the personalized
# branch and the foundation branch (a zero embedding) share one denoiser call.
IDENTITY_EMBEDS = "ip_image_embeds"


# IP-Adapter FaceID Plus also reads image features of the reference, (1, 1, tokens, width) per row; diffusers
# takes them as an attribute of the adapter's projection (`clip_embeds`), set before each call.
IDENTITY_FEATURES = "ip_clip_embeds"


def set_identity_features(unet, conditioning: Conditioning, dtype: torch.dtype) -> None:
    """Hand the rows' reference features to a loaded FaceID Plus projection (nothing without them)."""
    features = conditioning.extras.get(IDENTITY_FEATURES)
    if features is not None:
        unet.encoder_hid_proj.image_projection_layers[0].clip_embeds = features.to(dtype)


def identity_conditions(conditioning: Conditioning, dtype: torch.dtype) -> dict:
    """The UNet's `added_cond_kwargs` entry for an identity embedding: diffusers takes one tensor per loaded
    adapter, (rows, images, embedding); empty when the conditioning carries none."""
    identity = conditioning.extras.get(IDENTITY_EMBEDS)
    return {} if identity is None else {"image_embeds": [identity.to(dtype)]}


@dataclass
class PromptPair:
    """A prompt's conditioning and its unconditional (negative prompt) counterpart."""

    cond: Conditioning
    uncond: Conditioning
    prompt: str = ""
    negative_prompt: str = ""

    def with_uncond(self, uncond: Conditioning) -> "PromptPair":
        return replace(self, uncond=uncond)


def with_identity(pair: PromptPair, cond: torch.Tensor, uncond: torch.Tensor,
                  features: tuple[torch.Tensor, torch.Tensor] | None = None) -> PromptPair:
    """`pair` with an identity embedding (1, 1, dim) on its conditional and unconditional rows, and with
    `features` (cond, uncond), FaceID Plus's reference features."""
    def extras(conditioning: Conditioning, embedding, feature) -> dict:
        added = {IDENTITY_EMBEDS: embedding} if feature is None else {IDENTITY_EMBEDS: embedding, IDENTITY_FEATURES: feature}
        return {**conditioning.extras, **added}

    cond_features, uncond_features = features if features is not None else (None, None)
    return replace(
        pair,
        cond=Conditioning(pair.cond.hidden_states, extras(pair.cond, cond, cond_features)),
        uncond=Conditioning(pair.uncond.hidden_states, extras(pair.uncond, uncond, uncond_features)),
    )


def guided_rows(pair: PromptPair, guidance_scale: float) -> Conditioning:
    """Conditioning rows for one guided prediction: [uncond, cond], or just [cond] at guidance 1."""
    if guidance_scale == 1.0:
        return pair.cond
    return Conditioning.cat([pair.uncond, pair.cond])


def combine_guidance(noise: torch.Tensor, guidance_scale: float) -> torch.Tensor:
    """Classifier-free guidance over the rows `guided_rows` laid out."""
    if guidance_scale == 1.0:
        return noise
    uncond, cond = noise.chunk(2)
    return uncond + guidance_scale * (cond - uncond)


@dataclass
class DenoiserCounter:
    """Denoiser evaluations (one per latent row) and forward calls, for the cost model."""

    evaluations: int = 0
    calls: int = 0
    backward_passes: int = 0

    def snapshot(self) -> "DenoiserCounter":
        return DenoiserCounter(**{f.name: getattr(self, f.name) for f in fields(self)})

    def since(self, earlier: "DenoiserCounter") -> "DenoiserCounter":
        return DenoiserCounter(
            **{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)}
        )
