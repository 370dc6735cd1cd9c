"""IP-Adapter FaceID weights in the flat single-file layout that diffusers' `load_ip_adapter` reads.

A plain FaceID file holds three groups of tensors (IP-Adapter's own `ip-adapter-faceid_sd15.bin` layout,
flattened with the two prefixes diffusers splits a `.safetensors` file by):
- `image_proj.proj.0 / proj.2 / norm`: the MLP from the face embedding to `tokens` extra context tokens
  (diffusers' IPAdapterFaceIDImageProjection);
- `ip_adapter.{key}.to_k_ip / to_v_ip`: the decoupled cross-attention's projections of those tokens, one
  pair per cross-attention processor;
- `ip_adapter.{k}.to_{q,k,v,out}_lora.{down,up}`: the FaceID LoRA, on every attention processor k.

Numbering. IP-Adapter numbers its modules by position in `unet.attn_processors` (self- and cross-attention
alike). diffusers reads the LoRA that way (`_load_ip_adapter_loras` enumerates every processor) but
numbers the cross-attention weights 1, 3, 5, ... over cross-attention processors only
(`_convert_ip_adapter_attn_to_diffusers`), which is the same thing only when self- and cross-attention
processors alternate, self first. `cross_attention_keys` checks that and refuses a UNet where it fails,
since a file written for it would be read into the wrong layers.
"""

from __future__ import annotations

from pathlib import Path

import torch

# diffusers' attention conversion hard-codes 4 image tokens for a plain FaceID projection: a file with
# any other number loads its projection with that number and its processors with 4, and fails.
TOKENS = 4
# IP-Adapter FaceID's MLPProjModel widens the embedding twice before projecting it to the tokens.
MULT = 2
LORA_ADAPTER = "faceid_0"  # the peft adapter name diffusers gives the first IP-Adapter's LoRA
LORA_PROJECTIONS = ("q", "k", "v", "out")


def _is_cross_attention(name: str) -> bool:
    # The rule diffusers applies: every processor not named attn1 is a cross-attention one, except
    # AnimateDiff's motion modules, which get no image tokens and no key number.
    return not name.endswith("attn1.processor") and "motion_modules" not in name


def cross_attention_keys(processor_names) -> dict[str, int]:
    """Processor name -> its `ip_adapter.{key}` number, for the cross-attention processors of a UNet
    whose `attn_processors` keys (in order) are `processor_names`.

    Raises ValueError where diffusers' numbering (1, 3, 5, ... over cross-attention processors) differs
    from the processor's position among all processors, IP-Adapter's own numbering and the LoRA's."""
    keys, key = {}, 1
    for position, name in enumerate(processor_names):
        if not _is_cross_attention(name):
            continue
        if position != key:
            raise ValueError(
                f"cannot write IP-Adapter weights for this UNet: its cross-attention processor {name!r} is "
                f"number {position} among its attention processors, but diffusers reads its weights as "
                f"number {key} (it assumes self- and cross-attention processors alternate, self first); "
                "a file written for it would load into the wrong layers")
        keys[name] = key
        key += 2
    return keys


def _module_path(processor_name: str) -> str:
    return processor_name.removesuffix(".processor")


def _attention_modules(unet) -> dict[str, torch.nn.Module]:
    """Processor name -> the Attention module it belongs to, in `attn_processors` order."""
    modules = dict(unet.named_modules())
    return {name: modules[_module_path(name)] for name in unet.attn_processors}


def faceid_state_dict(unet, id_dim: int, *, tokens: int = TOKENS, mult: int = MULT, lora_rank: int = 4,
                      seed: int = 0, zero_lora_up: bool = True) -> dict[str, torch.Tensor]:
    """A random plain-FaceID state dict for `unet` (fp32, flat keys), for an embedding of `id_dim` values.

    `zero_lora_up`: the LoRA's up matrices start at zero, as a LoRA is initialised for training, so the
    LoRA changes nothing until trained; False draws them at random (a test can then see the LoRA act)."""
    if tokens != TOKENS:
        raise ValueError(f"diffusers loads a plain FaceID adapter with {TOKENS} image tokens only, not {tokens}")
    generator = torch.Generator().manual_seed(seed)

    def draw(rows: int, cols: int, std: float | None = None) -> torch.Tensor:
        # Scaled as nn.Linear's default initialisation is, so a fresh adapter has sensible magnitudes.
        return torch.randn(rows, cols, generator=generator) * (std if std is not None else cols ** -0.5)

    cross_dim = unet.config.cross_attention_dim
    hidden = id_dim * mult
    state = {
        "image_proj.proj.0.weight": draw(hidden, id_dim),
        "image_proj.proj.0.bias": torch.zeros(hidden),
        "image_proj.proj.2.weight": draw(cross_dim * tokens, hidden),
        "image_proj.proj.2.bias": torch.zeros(cross_dim * tokens),
        "image_proj.norm.weight": torch.ones(cross_dim),
        "image_proj.norm.bias": torch.zeros(cross_dim),
    }
    attentions = _attention_modules(unet)
    for name, key in cross_attention_keys(unet.attn_processors).items():
        attention = attentions[name]
        width = attention.to_k.out_features
        state[f"ip_adapter.{key}.to_k_ip.weight"] = draw(width, cross_dim)
        state[f"ip_adapter.{key}.to_v_ip.weight"] = draw(width, cross_dim)
    for k, attention in enumerate(attentions.values()):
        for projection in LORA_PROJECTIONS:
            layer = _lora_base(attention, projection)
            state[f"ip_adapter.{k}.to_{projection}_lora.down.weight"] = draw(lora_rank, layer.in_features)
            state[f"ip_adapter.{k}.to_{projection}_lora.up.weight"] = (
                torch.zeros(layer.out_features, lora_rank) if zero_lora_up
                else draw(layer.out_features, lora_rank, std=lora_rank ** -0.5))
    return state


def _lora_base(attention, projection: str):
    """The linear layer (or peft wrapper of it) a FaceID LoRA tensor of `projection` belongs to."""
    return attention.to_out[0] if projection == "out" else getattr(attention, f"to_{projection}")


def image_projection(pipe):
    """The IPAdapterFaceIDImageProjection a pipeline loaded (the first IP-Adapter's)."""
    from diffusers.models.embeddings import IPAdapterFaceIDImageProjection

    hid = getattr(pipe.unet, "encoder_hid_proj", None)
    layers = getattr(hid, "image_projection_layers", None)
    if not layers or not isinstance(layers[0], IPAdapterFaceIDImageProjection):
        raise ValueError("the pipeline has no plain IP-Adapter FaceID loaded (load_ip_adapter first)")
    return layers[0]


def exported_faceid_state_dict(pipe) -> dict[str, torch.Tensor]:
    """The FaceID adapter a pipeline has loaded, read back into the layout `faceid_state_dict` writes
    (fp32 copies): the inverse of diffusers' renames on loading."""
    unet = pipe.unet
    projection = image_projection(pipe)
    state = {
        # diffusers' FeedForward holds proj.0 as net.0.proj (inside its GELU) and proj.2 as net.2.
        "image_proj.proj.0.weight": projection.ff.net[0].proj.weight,
        "image_proj.proj.0.bias": projection.ff.net[0].proj.bias,
        "image_proj.proj.2.weight": projection.ff.net[2].weight,
        "image_proj.proj.2.bias": projection.ff.net[2].bias,
        "image_proj.norm.weight": projection.norm.weight,
        "image_proj.norm.bias": projection.norm.bias,
    }
    processors = unet.attn_processors
    for name, key in cross_attention_keys(processors).items():
        # The processor holds one to_k_ip / to_v_ip per loaded IP-Adapter; this file is the first one's.
        state[f"ip_adapter.{key}.to_k_ip.weight"] = processors[name].to_k_ip[0].weight
        state[f"ip_adapter.{key}.to_v_ip.weight"] = processors[name].to_v_ip[0].weight
    for k, attention in enumerate(_attention_modules(unet).values()):
        for projection_name in LORA_PROJECTIONS:
            layer = _lora_base(attention, projection_name)
            if not hasattr(layer, "lora_A") or LORA_ADAPTER not in layer.lora_A:
                raise ValueError(f"the pipeline has no FaceID LoRA ({LORA_ADAPTER!r}) on processor {k}")
            # peft's A is the down matrix (rank x in), B the up one (out x rank).
            state[f"ip_adapter.{k}.to_{projection_name}_lora.down.weight"] = layer.lora_A[LORA_ADAPTER].weight
            state[f"ip_adapter.{k}.to_{projection_name}_lora.up.weight"] = layer.lora_B[LORA_ADAPTER].weight
    return {key: value.detach().float().clone().contiguous() for key, value in state.items()}


def trainable_parameters(pipe) -> list[torch.nn.Parameter]:
    """The parameters IP-Adapter FaceID trains, in a fixed order: the image projection, every
    cross-attention processor's to_k_ip / to_v_ip, and the LoRA's A and B matrices."""
    unet = pipe.unet
    params = list(image_projection(pipe).parameters())
    processors = unet.attn_processors
    for name in cross_attention_keys(processors):
        params += [processors[name].to_k_ip[0].weight, processors[name].to_v_ip[0].weight]
    for attention in _attention_modules(unet).values():
        for projection_name in LORA_PROJECTIONS:
            layer = _lora_base(attention, projection_name)
            params += [layer.lora_A[LORA_ADAPTER].weight, layer.lora_B[LORA_ADAPTER].weight]
    return params


def save_faceid(state: dict[str, torch.Tensor], path, dtype: torch.dtype | None = None) -> Path:
    """Write `state` as one safetensors file (in `dtype` when given, e.g. torch.float16)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: (v.to(dtype) if dtype is not None else v).detach().contiguous().cpu() for k, v in state.items()}
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path


def load_faceid_into(pipe, path) -> None:
    """Load the FaceID file at `path` into `pipe` through diffusers' own loader, no image encoder."""
    path = Path(path)
    pipe.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name, image_encoder_folder=None)
