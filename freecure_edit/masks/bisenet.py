"""The `bisenet` parser: the paper's 19-class CelebAMask-HQ BiSeNet, from a local checkpoint.

A bare checkpoint carries no class names, so labels come from `label_order`, by default the order the
zllrunning `79999_iter.pth` was trained with (base.BISENET_LABEL_ORDER).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from PIL import Image

from freecure_edit.errors import ConfigurationError
from freecure_edit.masks.base import (
    BISENET_LABEL_ORDER,
    FaceParser,
    image_tensor,
    map_label_names,
    maps_from_logits,
    resolve_device,
)
from freecure_edit.masks.bisenet_net import BiSeNet
from freecure_edit.masks.checkpoints import checkpoint_path, fit_state_dict, read_state_dict

HOW_TO_GET = (
    "download 79999_iter.pth (the CelebAMask-HQ BiSeNet of zllrunning/face-parsing.PyTorch) "
    "and pass its path as the parser model"
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BiSeNetParser(FaceParser):
    name = "bisenet"

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str | torch.device | None = None,
        label_order: Sequence[str] | None = None,
        input_size: int = 512,
    ) -> None:
        if not isinstance(input_size, int) or input_size < 32:
            raise ConfigurationError(f"bisenet input_size must be an integer of at least 32, got {input_size!r}")
        path = checkpoint_path(model, "the bisenet face parser", HOW_TO_GET)
        state = read_state_dict(path)
        head, stem = state.get("conv_out.conv_out.weight"), state.get("cp.resnet.conv1.weight")
        if head is None or stem is None:
            raise ConfigurationError(
                f"{path.name} is not a BiSeNet face-parsing checkpoint (no cp.resnet or conv_out weights)"
            )
        # The checkpoint fixes the class count and the network width; the names come from label_order.
        order = tuple(label_order) if label_order is not None else BISENET_LABEL_ORDER
        if len(order) != head.shape[0]:
            raise ConfigurationError(
                f"{path.name} predicts {head.shape[0]} classes but label_order names {len(order)}"
            )
        self._class_labels = map_label_names(order, f"label_order for {path.name}")
        network = BiSeNet(num_classes=head.shape[0], width=stem.shape[0])
        fit_state_dict(network, state, path, "BiSeNet")
        self.device = resolve_device(device)
        self.network = network.eval().to(self.device)
        self.input_size = input_size

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for label in self._class_labels if label is not None)

    def _parse_rgb(self, image: Image.Image) -> dict[str, torch.Tensor]:
        size = (self.input_size, self.input_size)
        logits = self.network(image_tensor(image, size, IMAGENET_MEAN, IMAGENET_STD, self.device))
        # The reference implementation upsamples with align_corners=True.
        return maps_from_logits(logits, self._class_labels, (image.height, image.width), align_corners=True)
