"""Where models run, and at which precision."""

from __future__ import annotations

import torch

from freecure_edit.errors import ConfigurationError

_DTYPES = {
    "fp16": torch.float16,
    "float16": torch.float16,
    "half": torch.float16,
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp32": torch.float32,
    "float32": torch.float32,
    "float": torch.float32,
}


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    """The requested device, or the best available: cuda, then mps, then cpu."""
    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigurationError("--device cuda was requested but torch sees no CUDA GPU")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ConfigurationError("--device mps was requested but this torch build has no MPS")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, requested: str | torch.dtype | None = None) -> torch.dtype:
    """fp16 on a GPU, fp32 on the CPU (fp16 matmuls are slow or missing there, bf16 ~12x slower)."""
    if isinstance(requested, torch.dtype):
        return requested
    if requested is not None:
        try:
            return _DTYPES[requested.lower()]
        except KeyError:
            raise ConfigurationError(
                f"unknown dtype {requested!r}; use one of fp16, bf16, fp32"
            ) from None
    return torch.float32 if device.type == "cpu" else torch.float16


def dtype_kwarg(dtype: torch.dtype) -> dict:
    """The dtype argument of diffusers' loaders under the installed release's name: 0.40 renamed
    `torch_dtype` to `dtype` and warns on the old name; older releases know only `torch_dtype`."""
    import diffusers
    from packaging.version import Version

    renamed = Version(diffusers.__version__).release >= (0, 40)
    return {"dtype" if renamed else "torch_dtype": dtype}
