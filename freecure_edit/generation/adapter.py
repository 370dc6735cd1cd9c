"""Loading an IP-Adapter FaceID into a Stable Diffusion (1.x or SDXL) pipeline, through diffusers' own
`load_ip_adapter`: from a Hub id (the Hugging Face cache), a local folder or a single file.

diffusers reads a `.bin` with `torch.load(weights_only=True)` and a `.safetensors` by its `image_proj.` and
`ip_adapter.` prefixes. FaceID's LoRA is applied through peft, and without peft diffusers only warns and
runs the adapter without it, which is not the model its authors trained: that is refused here instead.
FaceID Plus and PlusV2 also read CLIP image features of the reference (the penultimate hidden states of a
CLIPVisionModelWithProjection, laion/CLIP-ViT-H-14-laion2B-s32B-b79K for the released files); PlusV2 adds
the identity's own tokens back (`shortcut`), which its authors switch on for the v2 files only, so it is
read from the file name unless given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from freecure_edit.errors import ConfigurationError, ModelNotFoundError

# The files of h94/IP-Adapter-FaceID for each base model; a folder or Hub id without a weight name gets these.
DEFAULT_WEIGHT_NAMES = {"sd": "ip-adapter-faceid_sd15.bin", "sdxl": "ip-adapter-faceid_sdxl.bin"}
DEFAULT_ADAPTER = "h94/IP-Adapter-FaceID"
DEFAULT_IMAGE_ENCODER = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"
ADAPTER_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class LoadedAdapter:
    """What was loaded: its kind ("faceid" or "faceid-plus"), the identity embedding length it takes, from
    where, whether its LoRA is on, and for Plus the image features' width and PlusV2's shortcut."""

    kind: str
    id_dim: int
    source: str
    weight_name: str
    lora: bool
    clip_dim: int | None = None
    shortcut: bool | None = None


def adapter_location(source: str, weight_name: str | None, family: str) -> tuple[str, str, str]:
    """(path or Hub id, subfolder, weight name) for `load_ip_adapter`, from what the user gave.

    A file is split into its folder and name; a folder with no `weight_name` must hold exactly one
    .safetensors or .bin file (or the family's default name); anything else is a Hub id."""
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix not in ADAPTER_SUFFIXES:
            raise ConfigurationError(f"{source} is not an IP-Adapter file (.safetensors or .bin)")
        return str(path.parent), "", path.name
    if path.is_dir():
        if weight_name is not None:
            if not (path / weight_name).is_file():
                raise ModelNotFoundError(f"the adapter folder {path} has no file {weight_name}")
            return str(path), "", weight_name
        candidates = sorted(p.name for p in path.iterdir() if p.suffix in ADAPTER_SUFFIXES)
        default = DEFAULT_WEIGHT_NAMES.get(family)
        if default in candidates:
            return str(path), "", default
        if len(candidates) != 1:
            found = ", ".join(candidates) or "none"
            raise ConfigurationError(f"the adapter folder {path} holds {found}: name the file with --adapter-weight-name")
        return str(path), "", candidates[0]
    if source.startswith((".", "/", "~")) or source.count("/") != 1:
        raise ModelNotFoundError(f"IP-Adapter {source!r} not found: it is neither a file, a folder nor a Hub id")
    name = weight_name or DEFAULT_WEIGHT_NAMES.get(family)
    if name is None:
        raise ConfigurationError(f"no default IP-Adapter FaceID file for a {family} model: pass --adapter-weight-name")
    return source, "", name


def check_adapter_source(source: str) -> None:
    """Refuse, before any model loads, an adapter given as a path that is not there (a Hub id is left to
    the loader, which reads the Hugging Face cache)."""
    path = Path(source).expanduser()
    looks_like_path = source.startswith((".", "/", "~")) or path.suffix in ADAPTER_SUFFIXES or source.count("/") != 1
    if looks_like_path and not path.exists():
        raise ModelNotFoundError(f"IP-Adapter {source!r} not found: it is neither a file, a folder nor a Hub id")


def load_faceid_adapter(pipe, source: str = DEFAULT_ADAPTER, weight_name: str | None = None, *,
                        family: str = "sd", image_encoder=None, shortcut: bool | None = None) -> LoadedAdapter:
    """Load the adapter into `pipe` (its UNet's cross-attention processors and image projection, and the
    FaceID LoRA through peft) and say what it is; refuses what generation mode cannot run.

    For FaceID Plus, `image_encoder` is a CLIPVisionModelWithProjection, or where to load one from (a Hub
    id or folder; default laion's ViT-H-14), unless the pipeline has one or the caller supplies the
    reference's features itself (`FreeCure.reference_features`): pass image_encoder=False then."""
    from diffusers.utils import USE_PEFT_BACKEND

    if family not in DEFAULT_WEIGHT_NAMES:
        raise ConfigurationError(f"generation mode runs IP-Adapter FaceID on SD 1.x and SDXL, not on {family}")
    if not USE_PEFT_BACKEND:
        raise ConfigurationError("IP-Adapter FaceID's LoRA needs peft, which is not installed: pip install peft")
    location, subfolder, name = adapter_location(source, weight_name, family)
    try:
        pipe.load_ip_adapter(location, subfolder=subfolder, weight_name=name, image_encoder_folder=None)
    except OSError as error:
        raise ModelNotFoundError(f"IP-Adapter {source!r} ({name}) could not be loaded: {_first_line(error)}") from None
    except (KeyError, ValueError, RuntimeError) as error:
        raise ModelNotFoundError(
            f"{source} ({name}) is not an IP-Adapter for this model: {_first_line(error)}") from None
    projection = pipe.unet.encoder_hid_proj.image_projection_layers[0]
    kind = type(projection).__name__
    lora = any(name.startswith("faceid_") for name in getattr(pipe.unet, "peft_config", {}) or {})
    if kind == "IPAdapterFaceIDImageProjection":
        return LoadedAdapter("faceid", int(projection.ff.net[0].proj.in_features), str(source), name, lora)
    if kind == "IPAdapterFaceIDPlusImageProjection":
        projection.shortcut = ("plusv2" in name.lower()) if shortcut is None else bool(shortcut)
        clip_dim = int(projection.proj_in.in_features)
        if image_encoder is not False:
            try:
                _attach_image_encoder(pipe, image_encoder, clip_dim)
            except (ModelNotFoundError, ConfigurationError):
                pipe.unload_ip_adapter()
                raise
        return LoadedAdapter("faceid-plus", int(projection.proj.net[0].proj.in_features), str(source), name, lora,
                             clip_dim=clip_dim, shortcut=projection.shortcut)
    pipe.unload_ip_adapter()
    raise ConfigurationError(f"{source} is an IP-Adapter ({kind}) without a face embedding, not IP-Adapter FaceID")


def _attach_image_encoder(pipe, image_encoder, clip_dim: int) -> None:
    """Give the pipeline the CLIP image encoder FaceID Plus reads the reference with, and a feature
    extractor at that encoder's size; its hidden width must be the adapter's feature width."""
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    if image_encoder is None and getattr(pipe, "image_encoder", None) is not None:
        encoder = pipe.image_encoder
    elif image_encoder is None or isinstance(image_encoder, (str, Path)):
        where = str(image_encoder or DEFAULT_IMAGE_ENCODER)
        try:
            encoder = CLIPVisionModelWithProjection.from_pretrained(where)
        except OSError as error:
            raise ModelNotFoundError(f"FaceID Plus needs a CLIP image encoder, and {where} could not be loaded: "
                                     f"{_first_line(error)} (--image-encoder)") from None
    else:
        encoder = image_encoder
    width = int(encoder.config.hidden_size)
    if width != clip_dim:
        raise ConfigurationError(f"the adapter reads image features {clip_dim} wide and the image encoder gives {width}: "
                                 "use the encoder the adapter was trained with")
    encoder = encoder.to(device=pipe.unet.device, dtype=pipe.unet.dtype)
    size = int(encoder.config.image_size)
    pipe.register_modules(image_encoder=encoder,
                          feature_extractor=CLIPImageProcessor(size=size, crop_size=size))


def clip_reference_features(pipe, image):
    """(cond, uncond) CLIP features of the reference as FaceID Plus reads them: the penultimate hidden
    states of the image and of a zero image (diffusers' own negative), each (1, 1, tokens, width)."""
    import torch

    if getattr(pipe, "image_encoder", None) is None:
        raise ConfigurationError("FaceID Plus needs the reference's image features: load an image encoder "
                                 "(load_adapter(image_encoder=...)) or set FreeCure.reference_features")
    with torch.no_grad():
        cond, uncond = pipe.encode_image(image, pipe.unet.device, 1, output_hidden_states=True)
    return cond[:, None].float(), uncond[:, None].float()


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
