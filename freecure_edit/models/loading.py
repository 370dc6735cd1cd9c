"""Loading diffusion pipelines: the one place that knows where models come from.

Sources, in the order they are recognised:
- a local diffusers folder (with `model_index.json`);
- a single checkpoint file: `.safetensors` through diffusers' single-file loading, with an optional local
  `config` folder for offline use (a FLUX transformer file, see flux.py); pickled files (`.ckpt`, `.pt`, `.pth`, `.bin`) only with
  `allow_pickle=True`, because unpickling can run arbitrary code;
- otherwise a Hub id, resolved through the Hugging Face cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from freecure_edit.errors import ConfigurationError, ModelNotFoundError, UnsafeCheckpointError
from freecure_edit.models.checks import check_channels, check_folder, check_single_file
from freecure_edit.models.devices import dtype_kwarg, pick_device, pick_dtype

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
SDXL_FP16_FIX_VAE = "madebyollin/sdxl-vae-fp16-fix"
OFFLOAD_MODES = ("model", "sequential")

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin"}
SUPPORTED_PIPELINES = {
    "StableDiffusionPipeline": "sd",
    "StableDiffusionXLPipeline": "sdxl",
    "FluxPipeline": "flux",
}


def load_pipeline(
    source: str | os.PathLike = DEFAULT_MODEL,
    *,
    kind: str | None = None,
    config: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    offload: bool | str = False,
    vae: str | os.PathLike | None = None,
    allow_pickle: bool = False,
):
    """Load a Stable Diffusion 1.x, SDXL or FLUX.1 pipeline, placed on a device and ready for inversion.

    `kind` ("sd", "sdxl" or "flux") is needed only for a single file whose type cannot be read from
    `config` or from the checkpoint's keys. A FLUX single file holds only the transformer; the text
    encoders and autoencoder come from `config` (a diffusers FLUX folder or cached Hub id; by default
    the cached FLUX.1-dev or -schnell repository, by whether the file has a guidance embedding).
    `vae` replaces the pipeline's autoencoder (for SDXL in fp16, the fp16-fix VAE avoids the upcast).
    `offload`: True or "model" moves whole models to the GPU as they are used; "sequential" moves
    one layer at a time (slowest, least GPU memory). FLUX defaults to bf16 on a GPU, since it
    overflows in fp16. The safety checker is never loaded.
    """
    target_device = pick_device(device)
    target_dtype = pick_dtype(target_device, dtype)

    def dtype_for(class_name: str) -> torch.dtype:
        if dtype is None and class_name == "FluxPipeline" and target_device.type != "cpu":
            return torch.bfloat16
        return target_dtype

    offload_mode = _offload_mode(offload)
    source_text = str(source)
    path = Path(source_text).expanduser()

    if path.is_dir():
        pipe = _load_folder(path, dtype_for)
    elif path.is_file():
        pipe = _load_single_file(path, kind, config, dtype_for, allow_pickle)
    elif _looks_like_a_path(source_text):
        raise ModelNotFoundError(f"model path {source_text} does not exist")
    else:
        pipe = _load_hub_id(source_text, dtype_for)

    _check_supported(pipe, source_text)
    check_channels(pipe, source_text)
    pipe_dtype = dtype_for(type(pipe).__name__)
    if vae is not None:
        pipe.vae = _load_vae(vae, pipe_dtype)
    _place(pipe, target_device, pipe_dtype, offload_mode)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def pipeline_kind(pipe) -> str:
    """"sd", "sdxl" or "flux", from the pipeline's class."""
    for class_name, name in SUPPORTED_PIPELINES.items():
        if type(pipe).__name__ == class_name or any(
            base.__name__ == class_name for base in type(pipe).__mro__
        ):
            return name
    raise ConfigurationError(
        f"{type(pipe).__name__} is not supported; use a Stable Diffusion 1.x, SDXL or FLUX.1 pipeline"
    )


def _looks_like_a_path(text: str) -> bool:
    # Hub ids are exactly "owner/name"; anything else that names a location is meant as a path.
    if text.startswith((".", "/", "~")) or "\\" in text:
        return True
    if Path(text).suffix.lower() in PICKLE_SUFFIXES | {".safetensors"}:
        return True
    return text.count("/") != 1


def _offload_mode(offload: bool | str) -> str | None:
    if offload in (False, None, "none"):
        return None
    if offload is True:
        return "model"
    if offload not in OFFLOAD_MODES:
        raise ConfigurationError(f"unknown offload mode {offload!r}; use model or sequential")
    return offload


def _load_folder(path: Path, dtype_for):
    from diffusers import DiffusionPipeline

    if not (path / "model_index.json").is_file():
        raise ModelNotFoundError(
            f"{path} is not a diffusers pipeline folder (no model_index.json); pass a diffusers folder, "
            "a .safetensors checkpoint or a Hub id"
        )
    class_name = json.loads((path / "model_index.json").read_text()).get("_class_name", "")
    check_folder(path)
    try:
        return DiffusionPipeline.from_pretrained(str(path), **_pretrained_kwargs(class_name, dtype_for(class_name)))
    except (OSError, ValueError, RuntimeError) as error:
        # A damaged or mismatched file inside the folder: name the folder and diffusers' reason.
        raise ModelNotFoundError(f"{path}: could not be loaded ({_first_line(error)})") from None


def _load_hub_id(model_id: str, dtype_for):
    from diffusers import DiffusionPipeline

    try:
        class_name = DiffusionPipeline.load_config(model_id).get("_class_name", "")
        return DiffusionPipeline.from_pretrained(model_id, **_pretrained_kwargs(class_name, dtype_for(class_name)))
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(_missing_hub_model_message(model_id, error)) from None


def check_hub_model(model_id: str) -> None:
    """Raise ModelNotFoundError now when `model_id` can be neither found in the cache nor downloaded;
    reads only its model_index.json, for callers that load several models one after another."""
    from diffusers import DiffusionPipeline

    try:
        DiffusionPipeline.load_config(model_id)
    except (OSError, ValueError) as error:
        raise ModelNotFoundError(_missing_hub_model_message(model_id, error)) from None


def _pretrained_kwargs(class_name: str, dtype: torch.dtype) -> dict:
    kwargs = dtype_kwarg(dtype)
    if class_name == "StableDiffusionPipeline":
        # The safety checker is a second 1.2 GB model that edits of real photos have no use for.
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    return kwargs


def _missing_hub_model_message(model_id: str, error: Exception) -> str:
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}
    reason = "the hub is offline" if offline else "it could not be downloaded"
    return (
        f"model {model_id} is not in the Hugging Face cache and {reason}; run "
        f"`hf download {model_id}` on a machine with internet, or pass a local diffusers "
        "folder or .safetensors file with --model"
    )


def _load_single_file(path: Path, kind, config, dtype_for, allow_pickle: bool):
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES and not allow_pickle:
        raise UnsafeCheckpointError(
            f"{path.name} is a pickled checkpoint, and loading it can run arbitrary code; convert it to "
            ".safetensors, or pass --allow-pickle if you trust its source"
        )
    if suffix not in PICKLE_SUFFIXES | {".safetensors"}:
        raise ConfigurationError(
            f"{path.name}: unknown checkpoint format {suffix or '(no suffix)'}; use .safetensors"
        )
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    check_single_file(path)
    resolved_kind = kind or _kind_from_config(config) or _kind_from_checkpoint_keys(path)
    if resolved_kind == "flux":
        from freecure_edit.models.flux import load_flux_transformer_file

        return load_flux_transformer_file(path, config, dtype_for("FluxPipeline"))
    pipeline_class = {"sd": StableDiffusionPipeline, "sdxl": StableDiffusionXLPipeline}.get(resolved_kind)
    if pipeline_class is None:
        raise ConfigurationError(f"unknown model kind {resolved_kind!r}; use sd, sdxl or flux")
    kwargs = _pretrained_kwargs(pipeline_class.__name__, dtype_for(pipeline_class.__name__))
    if config is not None:
        config_path = Path(config).expanduser()
        if not config_path.is_dir():
            raise ModelNotFoundError(f"model config folder {config} does not exist")
        kwargs.update(config=str(config_path), local_files_only=True)
    try:
        return pipeline_class.from_single_file(str(path), **kwargs)
    # A partly cached configuration makes diffusers fail with a TypeError rather than an OSError.
    except (OSError, TypeError, ValueError, KeyError) as error:
        if config is not None:  # the configuration was given: the fault is in the file or the pairing
            raise ModelNotFoundError(f"{path}: could not be loaded with --model-config {config} "
                                     f"({_first_line(error)})") from error
        raise ModelNotFoundError(
            f"{path.name} needs its pipeline configuration, which is not cached and cannot be fetched; "
            "pass a local diffusers folder of the same model family with --model-config"
        ) from error


def _kind_from_config(config) -> str | None:
    if config is None:
        return None
    index_file = Path(config).expanduser() / "model_index.json"
    if not index_file.is_file():
        return None
    class_name = json.loads(index_file.read_text()).get("_class_name", "")
    return SUPPORTED_PIPELINES.get(class_name)


def _kind_from_checkpoint_keys(path: Path) -> str:
    if path.suffix.lower() != ".safetensors":
        return "sd"
    from safetensors import safe_open

    from freecure_edit.models.flux import is_flux_transformer_key

    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
    # SDXL checkpoints carry a second (OpenCLIP) text encoder under conditioner.embedders.1.
    if any(key.startswith("conditioner.embedders.1.") for key in keys):
        return "sdxl"
    if any(is_flux_transformer_key(key) for key in keys):
        return "flux"
    return "sd"


def _load_vae(vae_source, dtype: torch.dtype):
    from diffusers import AutoencoderKL

    vae_path = Path(str(vae_source)).expanduser()
    try:
        if vae_path.is_file():
            return AutoencoderKL.from_single_file(str(vae_path), **dtype_kwarg(dtype))
        return AutoencoderKL.from_pretrained(str(vae_source), **dtype_kwarg(dtype))
    except (OSError, ValueError):
        raise ModelNotFoundError(
            f"VAE {vae_source} is not on disk or in the Hugging Face cache; download it "
            f"(for SDXL in fp16: `hf download {SDXL_FP16_FIX_VAE}`) or pass a local path"
        ) from None


def _first_line(error: BaseException) -> str:
    if isinstance(error, KeyError):  # a tensor the configuration expects and the file lacks
        return f"no tensor {error}: the file and the configuration are of different models"
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:300]


def _check_supported(pipe, source: str) -> None:
    try:
        pipeline_kind(pipe)
    except ConfigurationError as error:
        raise ConfigurationError(f"{source}: {error}") from None


def _place(pipe, device: torch.device, dtype: torch.dtype, offload: str | None) -> None:
    if offload == "sequential" and device.type != "cpu":
        pipe.enable_sequential_cpu_offload(device=device)
    elif offload and device.type != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.to(device)
    # The SDXL VAE overflows in fp16 and decodes to NaN; unless a VAE fixed for fp16 was configured
    # (its config says force_upcast False), keep the autoencoder in fp32.
    if dtype == torch.float16 and getattr(pipe.vae.config, "force_upcast", False):
        pipe.vae.to(dtype=torch.float32)
