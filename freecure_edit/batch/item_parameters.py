"""The parameters recorded for each input, and hashed for --resume: the prompt, the effective cure
settings, the models (local paths made absolute, so that ./sd and /home/me/sd are the same model)
with their precision, and what the output encoding changes. Not the device: the same settings on
another GPU make the same edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from freecure_edit.batch.parameters import parameter_hash
from freecure_edit.batch.plan import BatchItem
from freecure_edit.model_choice import ModelChoice
from freecure_edit.imageio.paths import output_format_for
from freecure_edit.imageio.metadata_policy import DEFAULT_METADATA

_LOCAL_PATH_KEYS = ("model", "model_config", "vae", "parser_model", "sam_checkpoint")


def resolved_dtype(device, requested: str | None) -> str:
    from freecure_edit.models.devices import pick_dtype

    return str(pick_dtype(device, requested)).removeprefix("torch.")


def model_identity(choice: ModelChoice, detect: bool, dtype: str) -> dict[str, str]:
    values = choice.parameters(detect)
    for key in _LOCAL_PATH_KEYS:
        if key in values and Path(values[key]).expanduser().exists():
            values[key] = str(Path(values[key]).expanduser().resolve())
    return {**values, "dtype": dtype}


def item_parameters(item: BatchItem, choice: ModelChoice, dtype: str) -> dict[str, Any]:
    encoding: dict[str, Any] = {"format": output_format_for(item.output)}
    if encoding["format"] != "PNG":
        encoding["quality"] = item.jpeg_quality
    if item.metadata != DEFAULT_METADATA:
        # Only when not the default, so that outputs listed before the policy existed keep their hash.
        encoding["metadata"] = item.metadata
    return {
        "prompt": item.prompt,
        "config": item.config.to_dict(),
        "models": model_identity(choice, item.config.detect, dtype),
        "output": encoding,
    }


def item_hash(item: BatchItem, choice: ModelChoice, dtype: str) -> tuple[dict[str, Any], str]:
    parameters = item_parameters(item, choice, dtype)
    return parameters, parameter_hash(parameters)
