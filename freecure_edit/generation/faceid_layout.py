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


def unet_processors(unet) -> dict:
    """`unet.attn_processors` without those of a loaded Plus projection's resampler: diffusers loads the
    adapter with that projection detached, and it sits after the UNet's own blocks (so the LoRA's numbers,
    which do count it, are unchanged)."""
    return {name: p for name, p in unet.attn_processors.items() if not name.startswith("encoder_hid_proj.")}


def _attention_modules(unet) -> dict[str, torch.nn.Module]:
    """Processor name -> the Attention module it belongs to, in `attn_processors` order."""
    modules = dict(unet.named_modules())
    return {name: modules[_module_path(name)] for name in unet_processors(unet)}


def _drawer(seed: int):
    generator = torch.Generator().manual_seed(seed)

    def draw(rows: int, cols: int, std: float | None = None) -> torch.Tensor:
        # Scaled as nn.Linear's default initialisation is, so a fresh adapter has sensible magnitudes.
        return torch.randn(rows, cols, generator=generator) * (std if std is not None else cols ** -0.5)

    return draw


def _ip_adapter_tensors(unet, draw, lora_rank: int, zero_lora_up: bool) -> dict[str, torch.Tensor]:
    """The `ip_adapter.*` tensors every FaceID kind has: to_k_ip / to_v_ip and the LoRA."""
    cross_dim = unet.config.cross_attention_dim
    state = {}
    attentions = _attention_modules(unet)
    for name, key in cross_attention_keys(unet_processors(unet)).items():
        width = attentions[name].to_k.out_features
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


def faceid_state_dict(unet, id_dim: int, *, tokens: int = TOKENS, mult: int = MULT, lora_rank: int = 4,
                      seed: int = 0, zero_lora_up: bool = True) -> dict[str, torch.Tensor]:
    """A random plain-FaceID state dict for `unet` (fp32, flat keys), for an embedding of `id_dim` values.

    `zero_lora_up`: the LoRA's up matrices start at zero, as a LoRA is initialised for training, so the
    LoRA changes nothing until trained; False draws them at random (a test can then see the LoRA act)."""
    if tokens != TOKENS:
        raise ValueError(f"diffusers loads a plain FaceID adapter with {TOKENS} image tokens only, not {tokens}")
    draw = _drawer(seed)
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
    return state | _ip_adapter_tensors(unet, draw, lora_rank, zero_lora_up)


# FaceID Plus / PlusV2 (IP-Adapter's ProjPlusModel): diffusers derives the resampler's heads from to_q's
# rows over 64, builds 4 blocks (its key renames cover layers 0-3 only) and widens the embedding twice.
PLUS_DEPTH = 4
PLUS_DIM_HEAD = 64
PLUS_MULT = 2


def _plus_names(depth: int = PLUS_DEPTH) -> list[tuple[str, str]]:
    """(key in the file without "image_proj.", parameter name in IPAdapterFaceIDPlusImageProjection):
    the inverse of the renames in diffusers' `_convert_ip_adapter_image_proj_to_diffusers`. A file's
    `to_kv` is the module's to_k and to_v stacked; it is listed as "to_kv" on both sides."""
    names = [("proj.0.weight", "proj.net.0.proj.weight"), ("proj.0.bias", "proj.net.0.proj.bias"),
             ("proj.2.weight", "proj.net.2.weight"), ("proj.2.bias", "proj.net.2.bias"),
             ("norm.weight", "norm.weight"), ("norm.bias", "norm.bias")]
    for part in ("proj_in", "proj_out", "norm_out"):
        names += [(f"perceiver_resampler.{part}.{p}", f"{part}.{p}") for p in ("weight", "bias")]
    for i in range(depth):
        file, module = f"perceiver_resampler.layers.{i}", f"layers.{i}"
        for p in ("weight", "bias"):
            names += [(f"{file}.0.norm1.{p}", f"{module}.ln0.{p}"), (f"{file}.0.norm2.{p}", f"{module}.ln1.{p}"),
                      (f"{file}.1.0.{p}", f"{module}.ff.0.{p}")]
        names += [(f"{file}.0.to_q.weight", f"{module}.attn.to_q.weight"),
                  (f"{file}.0.to_kv.weight", f"{module}.attn.to_kv"),
                  (f"{file}.0.to_out.weight", f"{module}.attn.to_out.0.weight"),
                  (f"{file}.1.1.weight", f"{module}.ff.1.net.0.proj.weight"),
                  (f"{file}.1.3.weight", f"{module}.ff.1.net.2.weight")]
    return names


def faceid_plus_state_dict(unet, id_dim: int, image_dim: int, *, heads: int = 1, lora_rank: int = 4, seed: int = 0,
                           zero_lora_up: bool = True) -> dict[str, torch.Tensor]:
    """A random FaceID Plus state dict for `unet` (the layout of IP-Adapter's FaceID Plus and PlusV2 files):
    a face embedding of `id_dim` values plus image features of `image_dim` channels per token (the
    `clip_embeds` diffusers' projection reads), resampled into 4 context tokens by 4 perceiver blocks of
    `heads` heads of 64 channels. Plus and PlusV2 files are alike; PlusV2 is used with `shortcut=True`."""
    draw = _drawer(seed)
    dim = unet.config.cross_attention_dim
    inner, ff = heads * PLUS_DIM_HEAD, 4 * dim
    shapes = {"proj.0.weight": (id_dim * PLUS_MULT, id_dim), "proj.2.weight": (dim * TOKENS, id_dim * PLUS_MULT),
              "perceiver_resampler.proj_in.weight": (dim, image_dim),
              "perceiver_resampler.proj_out.weight": (dim, dim)}
    for i in range(PLUS_DEPTH):
        file = f"perceiver_resampler.layers.{i}"
        shapes |= {f"{file}.0.to_q.weight": (inner, dim), f"{file}.0.to_kv.weight": (2 * inner, dim),
                   f"{file}.0.to_out.weight": (dim, inner), f"{file}.1.1.weight": (ff, dim),
                   f"{file}.1.3.weight": (dim, ff)}
    state = {}
    for key, _ in _plus_names():
        if key in shapes:
            state[f"image_proj.{key}"] = draw(*shapes[key])
        elif key.endswith(".bias"):
            # Biases of linear layers and layer norms start at zero; their size is the weight's rows.
            weight = key.removesuffix(".bias") + ".weight"
            rows = shapes[weight][0] if weight in shapes else dim
            state[f"image_proj.{key}"] = torch.zeros(rows)
        else:  # a layer norm's weight
            state[f"image_proj.{key}"] = torch.ones(dim)
    return state | _ip_adapter_tensors(unet, draw, lora_rank, zero_lora_up)


def _lora_base(attention, projection: str):
    """The linear layer (or peft wrapper of it) a FaceID LoRA tensor of `projection` belongs to."""
    return attention.to_out[0] if projection == "out" else getattr(attention, f"to_{projection}")


def image_projection(pipe):
    """The FaceID image projection a pipeline loaded (the first IP-Adapter's): an
    IPAdapterFaceIDImageProjection (plain) or IPAdapterFaceIDPlusImageProjection (Plus, PlusV2)."""
    from diffusers.models.embeddings import IPAdapterFaceIDImageProjection, IPAdapterFaceIDPlusImageProjection

    hid = getattr(pipe.unet, "encoder_hid_proj", None)
    layers = getattr(hid, "image_projection_layers", None)
    if not layers or not isinstance(layers[0], (IPAdapterFaceIDImageProjection, IPAdapterFaceIDPlusImageProjection)):
        raise ValueError("the pipeline has no IP-Adapter FaceID loaded (load_ip_adapter first)")
    return layers[0]


def _projection_tensors(projection) -> dict[str, torch.Tensor]:
    """The `image_proj.*` tensors of a loaded projection, in the file's names."""
    from diffusers.models.embeddings import IPAdapterFaceIDPlusImageProjection

    if not isinstance(projection, IPAdapterFaceIDPlusImageProjection):
        # diffusers' FeedForward holds proj.0 as net.0.proj (inside its GELU) and proj.2 as net.2.
        return {"image_proj.proj.0.weight": projection.ff.net[0].proj.weight,
                "image_proj.proj.0.bias": projection.ff.net[0].proj.bias,
                "image_proj.proj.2.weight": projection.ff.net[2].weight,
                "image_proj.proj.2.bias": projection.ff.net[2].bias,
                "image_proj.norm.weight": projection.norm.weight,
                "image_proj.norm.bias": projection.norm.bias}
    params = dict(projection.named_parameters())
    out = {}
    for key, name in _plus_names():
        if name.endswith(".to_kv"):
            # diffusers split the file's to_kv into to_k and to_v (keys first); stack them back.
            attention = name.removesuffix(".to_kv")
            out[f"image_proj.{key}"] = torch.cat([params[f"{attention}.to_k.weight"], params[f"{attention}.to_v.weight"]])
        else:
            out[f"image_proj.{key}"] = params[name]
    return out


def exported_faceid_state_dict(pipe) -> dict[str, torch.Tensor]:
    """The FaceID adapter a pipeline has loaded, read back into the layout `faceid_state_dict` writes
    (fp32 copies): the inverse of diffusers' renames on loading."""
    unet = pipe.unet
    state = _projection_tensors(image_projection(pipe))
    processors = unet_processors(unet)
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
    """The parameters IP-Adapter FaceID trains, in a fixed order: the image projection (plain or Plus), every
    cross-attention processor's to_k_ip / to_v_ip, and the LoRA's A and B matrices."""
    unet = pipe.unet
    params = list(image_projection(pipe).parameters())
    processors = unet_processors(unet)
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
