"""Write a diffusers Stable Diffusion 1.x pipeline as an original (CompVis / LDM layout) single-file checkpoint.

No real weights are available where this project is tested, so the tests build a tiny random pipeline
(`freecure_edit.testing.tiny_sd_pipeline`) and turn it into the kind of `.safetensors` file people download
for SD 1.5: one flat state dict with

- `model.diffusion_model.*`            the UNet (input_blocks / middle_block / output_blocks / time_embed / out),
- `first_stage_model.*`                the VAE (encoder.down.N.block.M, mid.block_1, mid.attn_1, norm_out, ...),
- `cond_stage_model.transformer.*`     the CLIP text encoder (`text_model.` keys, as transformers 4.x names them).

The renaming is derived from the models' configs (number of blocks, `layers_per_block`, which blocks carry
cross-attention, whether a block down/up-samples), so the same function writes a correct file for a full-size
SD 1.5 pipeline. Every parameter of the three models is mapped exactly once; a key the mapping does not
account for (a model outside the SD 1.x layout) raises instead of being silently dropped.

How diffusers reads such a file back (diffusers 0.42, `loaders/single_file.py`, `single_file_model.py`,
`single_file_utils.py`), which is why nothing special is needed for the tiny model:

- `infer_diffusers_model_type` only looks for marker keys of *other* families (v2, SDXL, upscale, inpainting
  by `input_blocks.0.0.weight` having 9 input channels, ...) and returns "v1" when none matches; the "v1"
  marker `model.diffusion_model.output_blocks.11.0.skip_connection.weight` is never required. A tiny UNet
  with two blocks has no `output_blocks.11`, and is still classified "v1".
- More to the point, the inference is only used to pick a default *hub* config (`fetch_diffusers_config`).
  `StableDiffusionPipeline.from_single_file(path, config=<local diffusers folder>, local_files_only=True)`
  skips it entirely: the pipeline's `model_index.json` and every component's config come from the folder,
  the UNet and VAE go through `FromOriginalModelMixin.from_single_file(checkpoint, config=folder,
  subfolder=...)` (which again only calls `fetch_diffusers_config` when `config` is None), the CLIP model
  through `create_diffusers_clip_model_from_ldm(config=folder)`, and the tokenizer and scheduler through
  `from_pretrained(folder, subfolder=...)`. So no fake marker key is written: the file holds only the
  model's own tensors.
- Caveats of the reader worth knowing: missing keys are not reported (with accelerate they stay on the meta
  device), so the test compares every tensor; `convert_ldm_unet_checkpoint` assumes an int
  `layers_per_block` and one transformer per mid block, as SD 1.x has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_PREFIX = "cond_stage_model.transformer."

# diffusers block type -> whether it carries (cross-)attention, for the block types SD 1.x uses.
_UNET_DOWN_TYPES = {"DownBlock2D": False, "CrossAttnDownBlock2D": True}
_UNET_UP_TYPES = {"UpBlock2D": False, "CrossAttnUpBlock2D": True}
_UNET_MID_TYPES = {"UNetMidBlock2DCrossAttn"}
_VAE_DOWN_TYPES = {"DownEncoderBlock2D"}
_VAE_UP_TYPES = {"UpDecoderBlock2D"}

# Sub-module names inside one resnet block: diffusers ResnetBlock2D -> LDM openaimodel ResBlock.
_UNET_RESNET_NAMES = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "time_emb_proj": "emb_layers.1",
    "conv_shortcut": "skip_connection",
}
# diffusers ResnetBlock2D (no time embedding) -> LDM model.ResnetBlock.
_VAE_RESNET_NAMES = {
    "norm1": "norm1",
    "conv1": "conv1",
    "norm2": "norm2",
    "conv2": "conv2",
    "conv_shortcut": "nin_shortcut",
}
# diffusers Attention (VAE mid block) -> LDM model.AttnBlock, whose q/k/v/proj_out are 1x1 convs.
_VAE_ATTENTION_NAMES = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}

Renamer = Callable[[str, torch.Tensor], tuple[str, torch.Tensor]]


def _same(suffix: str, tensor: torch.Tensor) -> tuple[str, torch.Tensor]:
    return suffix, tensor


def _rename_head(table: dict[str, str], what: str) -> Renamer:
    """Rename the leading sub-module name of a suffix ("conv1.weight" -> "in_layers.2.weight")."""

    def rename(suffix: str, tensor: torch.Tensor) -> tuple[str, torch.Tensor]:
        for old, new in table.items():
            if suffix.startswith(old + "."):
                return new + suffix[len(old) :], tensor
        raise ValueError(f"unexpected parameter {suffix!r} in a {what}")

    return rename


def _vae_attention(suffix: str, tensor: torch.Tensor) -> tuple[str, torch.Tensor]:
    new_suffix, tensor = _rename_head(_VAE_ATTENTION_NAMES, "VAE attention block")(suffix, tensor)
    if new_suffix.endswith(".weight") and tensor.ndim == 2:
        # nn.Linear (out, in) -> 1x1 nn.Conv2d (out, in, 1, 1), as the LDM AttnBlock stores them.
        tensor = tensor[:, :, None, None]
    return new_suffix, tensor


def _per_block(value, count: int, name: str) -> list[int]:
    if isinstance(value, int):
        return [value] * count
    value = list(value)
    if len(value) != count:
        raise ValueError(f"{name} has {len(value)} entries for {count} blocks")
    return value


def _block_kinds(types, table, what: str) -> list[bool]:
    kinds = []
    for block_type in types:
        if block_type not in table:
            raise ValueError(f"{what} block type {block_type!r} is not part of the SD 1.x layout")
        kinds.append(table[block_type])
    return kinds


def _apply(plan: dict[str, tuple[str, Renamer]], state_dict, what: str) -> dict[str, torch.Tensor]:
    """Rename every key of `state_dict` with the longest module prefix of `plan` that contains it."""
    prefixes = sorted(plan, key=len, reverse=True)
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        for prefix in prefixes:
            if key.startswith(prefix + "."):
                target, rename = plan[prefix]
                suffix, tensor = rename(key[len(prefix) + 1 :], tensor)
                new_key = f"{target}.{suffix}"
                break
        else:
            raise ValueError(f"{what} parameter {key!r} has no place in the SD 1.x (LDM) layout")
        if new_key in out:
            raise ValueError(f"two {what} parameters map to {new_key!r}")
        out[new_key] = tensor
    return out


def unet_to_ldm(unet) -> dict[str, torch.Tensor]:
    """A diffusers UNet2DConditionModel's state dict in LDM `openaimodel.UNetModel` names (no prefix)."""
    cfg = unet.config
    n_blocks = len(cfg.down_block_types)
    if len(cfg.up_block_types) != n_blocks:
        raise ValueError("the UNet has different numbers of down and up blocks")
    if cfg.mid_block_type not in _UNET_MID_TYPES:
        raise ValueError(f"mid block type {cfg.mid_block_type!r} is not part of the SD 1.x layout")
    down_attn = _block_kinds(cfg.down_block_types, _UNET_DOWN_TYPES, "UNet down")
    up_attn = _block_kinds(cfg.up_block_types, _UNET_UP_TYPES, "UNet up")
    layers = _per_block(cfg.layers_per_block, n_blocks, "layers_per_block")

    resnet = _rename_head(_UNET_RESNET_NAMES, "UNet resnet block")
    plan: dict[str, tuple[str, Renamer]] = {
        "time_embedding.linear_1": ("time_embed.0", _same),
        "time_embedding.linear_2": ("time_embed.2", _same),
        "conv_in": ("input_blocks.0.0", _same),
        "conv_norm_out": ("out.0", _same),
        "conv_out": ("out.2", _same),
    }

    # input_blocks: 0 is conv_in; then per level, `layers` blocks of [ResBlock, (SpatialTransformer)],
    # followed by one [Downsample] block on every level but the last.
    index = 1
    for b in range(n_blocks):
        for layer in range(layers[b]):
            plan[f"down_blocks.{b}.resnets.{layer}"] = (f"input_blocks.{index}.0", resnet)
            if down_attn[b]:
                plan[f"down_blocks.{b}.attentions.{layer}"] = (f"input_blocks.{index}.1", _same)
            index += 1
        if b != n_blocks - 1:
            plan[f"down_blocks.{b}.downsamplers.0.conv"] = (f"input_blocks.{index}.0.op", _same)
            index += 1

    # middle_block: ResBlock, then (SpatialTransformer, ResBlock) per extra layer (one in SD 1.x).
    plan["mid_block.resnets.0"] = ("middle_block.0", resnet)
    n_mid_attn = len(unet.mid_block.attentions)
    for i in range(n_mid_attn):
        plan[f"mid_block.attentions.{i}"] = (f"middle_block.{2 * i + 1}", _same)
        plan[f"mid_block.resnets.{i + 1}"] = (f"middle_block.{2 * i + 2}", resnet)

    # output_blocks: per level (deepest first), `layers + 1` blocks of [ResBlock, (SpatialTransformer)],
    # the last one of every level but the final also holding the Upsample (at index 1, or 2 after attention).
    up_layers = list(reversed(layers))
    index = 0
    for b in range(n_blocks):
        n_layers = up_layers[b] + 1
        for layer in range(n_layers):
            plan[f"up_blocks.{b}.resnets.{layer}"] = (f"output_blocks.{index}.0", resnet)
            slot = 1
            if up_attn[b]:
                plan[f"up_blocks.{b}.attentions.{layer}"] = (f"output_blocks.{index}.1", _same)
                slot = 2
            if layer == n_layers - 1 and b != n_blocks - 1:
                plan[f"up_blocks.{b}.upsamplers.0.conv"] = (f"output_blocks.{index}.{slot}.conv", _same)
            index += 1

    # Inside the attention blocks the names already agree (norm, proj_in, transformer_blocks.N.attn1.to_q,
    # ff.net.0.proj, proj_out, ...), and proj_in/proj_out keep their shape (1x1 conv unless
    # use_linear_projection, which SD 1.x does not set).
    return _apply(plan, unet.state_dict(), "UNet")


def vae_to_ldm(vae) -> dict[str, torch.Tensor]:
    """A diffusers AutoencoderKL's state dict in LDM `AutoencoderKL` names (no prefix)."""
    cfg = vae.config
    n_blocks = len(cfg.down_block_types)
    if len(cfg.up_block_types) != n_blocks:
        raise ValueError("the VAE has different numbers of down and up blocks")
    for block_type in cfg.down_block_types:
        if block_type not in _VAE_DOWN_TYPES:
            raise ValueError(f"VAE down block type {block_type!r} is not part of the SD 1.x layout")
    for block_type in cfg.up_block_types:
        if block_type not in _VAE_UP_TYPES:
            raise ValueError(f"VAE up block type {block_type!r} is not part of the SD 1.x layout")

    resnet = _rename_head(_VAE_RESNET_NAMES, "VAE resnet block")
    plan: dict[str, tuple[str, Renamer]] = {
        "quant_conv": ("quant_conv", _same),
        "post_quant_conv": ("post_quant_conv", _same),
    }
    for part in ("encoder", "decoder"):
        plan[f"{part}.conv_in"] = (f"{part}.conv_in", _same)
        plan[f"{part}.conv_norm_out"] = (f"{part}.norm_out", _same)
        plan[f"{part}.conv_out"] = (f"{part}.conv_out", _same)
        plan[f"{part}.mid_block.resnets.0"] = (f"{part}.mid.block_1", resnet)
        plan[f"{part}.mid_block.resnets.1"] = (f"{part}.mid.block_2", resnet)
        if getattr(cfg, "mid_block_add_attention", True):
            plan[f"{part}.mid_block.attentions.0"] = (f"{part}.mid.attn_1", _vae_attention)

    # Encoder: level i has `layers_per_block` resnets and, but for the last level, a downsample.
    for i in range(n_blocks):
        for j in range(cfg.layers_per_block):
            plan[f"encoder.down_blocks.{i}.resnets.{j}"] = (f"encoder.down.{i}.block.{j}", resnet)
        if i != n_blocks - 1:
            plan[f"encoder.down_blocks.{i}.downsamplers.0.conv"] = (f"encoder.down.{i}.downsample.conv", _same)

    # Decoder: diffusers counts up blocks from the deepest, LDM indexes `up` by resolution level
    # (up.0 is the full-resolution one), so diffusers up_blocks.i is LDM up.(n-1-i).
    for i in range(n_blocks):
        level = n_blocks - 1 - i
        for j in range(cfg.layers_per_block + 1):
            plan[f"decoder.up_blocks.{i}.resnets.{j}"] = (f"decoder.up.{level}.block.{j}", resnet)
        if i != n_blocks - 1:
            plan[f"decoder.up_blocks.{i}.upsamplers.0.conv"] = (f"decoder.up.{level}.upsample.conv", _same)

    return _apply(plan, vae.state_dict(), "VAE")


def clip_to_ldm(text_encoder) -> dict[str, torch.Tensor]:
    """A CLIPTextModel's state dict with the `text_model.` keys that SD 1.x checkpoints store (no prefix).

    SD 1.x checkpoints hold a transformers 4.x `CLIPTextModel` under `cond_stage_model.transformer.`, whose
    keys start with `text_model.`; transformers >= 5.6 flattened the model (no `text_model.` level), so the
    level is added back when missing.
    """
    out = {}
    for key, tensor in text_encoder.state_dict().items():
        out[key if key.startswith("text_model.") else f"text_model.{key}"] = tensor
    return out


def sd15_ldm_state_dict(pipe) -> dict[str, torch.Tensor]:
    """The whole pipeline (UNet, VAE, text encoder) as one flat LDM-layout state dict."""
    state: dict[str, torch.Tensor] = {}
    for prefix, part in (
        (UNET_PREFIX, unet_to_ldm(pipe.unet)),
        (VAE_PREFIX, vae_to_ldm(pipe.vae)),
        (CLIP_PREFIX, clip_to_ldm(pipe.text_encoder)),
    ):
        for key, tensor in part.items():
            state[prefix + key] = tensor
    return state


def write_sd15_single_file(pipe, path) -> Path:
    """Write `pipe` (a diffusers StableDiffusionPipeline) as an original-layout SD 1.x `.safetensors` file.

    Returns the path written. The file loads with
    `StableDiffusionPipeline.from_single_file(path, config=<pipe.save_pretrained folder>, local_files_only=True)`.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fresh contiguous CPU copies: safetensors refuses views and tensors that share storage.
    tensors = {
        key: tensor.detach().to("cpu").contiguous().clone() for key, tensor in sd15_ldm_state_dict(pipe).items()
    }
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path
