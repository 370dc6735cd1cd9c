"""The `segformer` parser (default): transformers' SegformerForSemanticSegmentation, by default the
CC0 model `jonathandinu/face-parsing`, from the Hub cache or a local folder.

Labels come from the model config's id2label, mapped by name. Input size and normalisation come from
the model's preprocessor_config.json when it has one, else SegFormer's defaults (512x512, ImageNet).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from PIL import Image

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.masks.base import FaceParser, image_tensor, map_label_names, maps_from_logits, resolve_device

DEFAULT_MODEL = "jonathandinu/face-parsing"
_DEFAULT_SIZE = (512, 512)
_DEFAULT_MEAN = (0.485, 0.456, 0.406)
_DEFAULT_STD = (0.229, 0.224, 0.225)


def _looks_like_path(source: str) -> bool:
    # A Hub id is "name" or "owner/name"; anything else that is not on disk is a missing local path.
    return Path(source).expanduser().exists() or source.startswith((".", "/", "~", "\\")) or source.count("/") > 1


def _missing_message(source: str) -> str:
    if _looks_like_path(source):
        return (
            f"SegFormer face parser not found at {Path(source).expanduser()}: pass a folder with config.json "
            f"and model.safetensors, e.g. a download of {DEFAULT_MODEL}"
        )
    return (
        f"SegFormer face parser {source!r} is not in the local Hugging Face cache and the Hub cannot be reached: "
        f"run `hf download {source}` while online, or pass a local folder"
    )


def _preprocessor_config(source: str) -> dict:
    if Path(source).expanduser().is_dir():
        candidate: str | Path | None = Path(source).expanduser() / "preprocessor_config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        candidate = try_to_load_from_cache(source, "preprocessor_config.json")
    if not isinstance(candidate, (str, Path)) or not Path(candidate).is_file():
        return {}
    with open(candidate, encoding="utf-8") as handle:
        return json.load(handle)


def _input_geometry(config: dict, input_size: int | Sequence[int] | None) -> tuple[tuple[int, int], tuple, tuple]:
    size = config.get("size")
    if input_size is not None:
        pair = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    elif isinstance(size, dict) and "height" in size and "width" in size:
        pair = (size["height"], size["width"])
    elif isinstance(size, int):
        pair = (size, size)
    else:
        pair = _DEFAULT_SIZE
    if len(pair) != 2 or not all(isinstance(v, int) and v >= 32 for v in pair):
        raise ConfigurationError(
            f"segformer input_size must be an integer or (height, width) of at least 32, got {input_size!r}"
        )
    mean = tuple(config.get("image_mean", _DEFAULT_MEAN))
    std = tuple(config.get("image_std", _DEFAULT_STD))
    if not config.get("do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return (int(pair[0]), int(pair[1])), mean, std


class SegFormerParser(FaceParser):
    name = "segformer"

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        label_order: Sequence[str] | None = None,
        input_size: int | Sequence[int] | None = None,
    ) -> None:
        from transformers import SegformerForSemanticSegmentation

        source = str(model) if model is not None else DEFAULT_MODEL
        try:
            network, info = SegformerForSemanticSegmentation.from_pretrained(source, output_loading_info=True)
        except OSError as error:
            raise ModelNotFoundError(_missing_message(source)) from error
        except (RuntimeError, ValueError) as error:
            raise ConfigurationError(
                f"{source} does not fit SegformerForSemanticSegmentation: {str(error).splitlines()[0]}"
            ) from error
        missing = sorted(info.get("missing_keys") or [])
        if missing:
            # transformers would fill these with random weights and parse noise without complaint.
            raise ConfigurationError(
                f"{source} lacks {len(missing)} weights of the SegFormer network, e.g. {missing[0]}"
            )

        num_classes = network.config.num_labels
        if label_order is not None:
            names: Sequence[str] = tuple(label_order)
            if len(names) != num_classes:
                raise ConfigurationError(f"{source} predicts {num_classes} classes but label_order names {len(names)}")
        else:
            names = [network.config.id2label[i] for i in range(num_classes)]
        self._class_labels = map_label_names(names, f"the config of {source}")
        self.size, self.mean, self.std = _input_geometry(_preprocessor_config(source), input_size)
        self.device = resolve_device(device)
        self.network = network.eval().to(self.device)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label in self._class_labels if label is not None)

    def _parse_rgb(self, image: Image.Image) -> dict[str, torch.Tensor]:
        pixels = image_tensor(image, self.size, self.mean, self.std, self.device)
        logits = self.network(pixel_values=pixels).logits
        return maps_from_logits(logits, self._class_labels, (image.height, image.width))
