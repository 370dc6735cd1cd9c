"""Reading local checkpoint files safely, and fitting them to a network with a one-line error."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from freecure_edit.errors import ConfigurationError, ModelNotFoundError, UnsafeCheckpointError


def checkpoint_path(path: str | os.PathLike | None, what: str, how_to_get: str) -> Path:
    """The checkpoint's path, or ModelNotFoundError saying what to download and where it goes."""
    if path is None:
        raise ModelNotFoundError(f"{what} needs a local checkpoint: {how_to_get}")
    resolved = Path(path).expanduser()
    if not resolved.is_file():
        raise ModelNotFoundError(f"{what} checkpoint not found at {resolved}: {how_to_get}")
    return resolved


def _unwrap(state: object, path: Path) -> dict[str, torch.Tensor]:
    # Training scripts often save {"state_dict": ...} or a DataParallel model ("module." prefixes).
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigurationError(f"{path} holds no state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors file, or of a .pth/.pt/.bin file unpickled with weights_only."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return _unwrap(load_file(str(path)), path)
        except Exception as error:  # safetensors raises its own error types for a bad header
            raise ConfigurationError(f"{path} is not a readable safetensors file ({error})") from error
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        # A refused class or function ("Unsupported global") means code would run; anything else
        # the unpickler trips on is a damaged or foreign file.
        if "unsupported global" in str(error).lower():
            raise UnsafeCheckpointError(
                f"{path} holds Python objects besides tensors and was not unpickled; save its state dict "
                "alone, or as .safetensors"
            ) from error
        raise ConfigurationError(f"{path} is not a readable checkpoint (the unpickler stopped on it)") from error
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise ConfigurationError(f"{path} is not a readable checkpoint ({str(error).splitlines()[0]})") from error
    return _unwrap(state, path)


def fit_state_dict(module: torch.nn.Module, state: dict[str, torch.Tensor], path: Path, what: str) -> None:
    """Load `state` into `module`, every tensor present with the same shape, or ConfigurationError."""
    expected = module.state_dict()
    # BatchNorm counters are bookkeeping; checkpoints from before torch 0.4.1 lack them.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    if missing or unexpected or reshaped:
        example = ""
        if reshaped:
            key = reshaped[0]
            example = f", e.g. {key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
        elif missing:
            example = f", e.g. {missing[0]} missing"
        elif unexpected:
            example = f", e.g. unexpected {unexpected[0]}"
        raise ConfigurationError(
            f"{path.name} does not fit the {what} network: {len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(reshaped)} of another shape{example}"
        )
    module.load_state_dict(state, strict=False)
