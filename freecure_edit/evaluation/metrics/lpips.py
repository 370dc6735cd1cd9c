"""LPIPS between face crops, through the `lpips` package (the paper's "official implementation",
richzhang/PerceptualSimilarity, on PyPI as lpips).

Per result it gives `lpips_to_input` (how far the output's face moved from the input's); the runner
uses `distance` between the outputs of different seeds for the paper's face diversity.

lpips ships its linear heads, but its backbone comes from torchvision's ImageNet weights, which
torchvision downloads on first use. Here the backbone file is looked for in torch's hub cache first, so
that offline a missing one is a missing model (exit 4) naming the file, and it is read with
torch.load(weights_only=True) rather than through torchvision's download path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.evaluation.metrics.base import Metric, Sample, face_crop

NETS = ("alex", "vgg", "squeeze")
CROP_SIZE = 224


def backbone_file(net: str) -> tuple[str, Path]:
    """The torchvision weights URL of an lpips backbone and where torch's hub cache keeps it."""
    from torchvision import models

    weights = {
        "alex": models.AlexNet_Weights.IMAGENET1K_V1,
        "vgg": models.VGG16_Weights.IMAGENET1K_V1,
        "squeeze": models.SqueezeNet1_1_Weights.IMAGENET1K_V1,
    }[net]
    return weights.url, Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]


def _torchvision_backbone(net: str):
    from torchvision import models

    return {"alex": models.alexnet, "vgg": models.vgg16, "squeeze": models.squeezenet1_1}[net]()


class LpipsMetric(Metric):
    name = "lpips"
    provides = ("lpips_to_input",)

    def __init__(self, net: str = "alex", device: str | torch.device = "cpu"):
        if net not in NETS:
            raise ConfigurationError(f"unknown LPIPS network {net!r}; use one of {', '.join(NETS)}")
        url, path = backbone_file(net)
        if not path.is_file():
            raise ModelNotFoundError(
                f"LPIPS needs torchvision's {net} weights, not found at {path}: download {url} there "
                "(or set TORCH_HOME to a folder whose hub/checkpoints holds it)"
            )
        import warnings

        import lpips

        # The linear heads come with the package; the backbone is built empty and filled from the file.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lpips still passes torchvision's deprecated `pretrained`
            self.model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
        backbone = _torchvision_backbone(net)
        try:
            backbone.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except (RuntimeError, OSError, ValueError) as error:
            raise ModelNotFoundError(f"{path} is not torchvision's {net} weights ({str(error).splitlines()[0]})") from None
        features = backbone.features
        for stage in (getattr(self.model.net, f"slice{i}") for i in range(1, 8) if hasattr(self.model.net, f"slice{i}")):
            for index, layer in stage.named_children():
                layer.load_state_dict(features[int(index)].state_dict())
        self.model = self.model.eval().to(device)
        self.net = net
        self.device = device
        self.weights = path

    @torch.no_grad()
    def distance(self, first, second) -> float:
        """LPIPS between two RGB crops of the same size (PIL images)."""
        tensors = [
            torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)[None]
            for image in (first, second)
        ]
        return float(self.model(tensors[0].to(self.device), tensors[1].to(self.device)).flatten()[0])

    def crop(self, image, face):
        return face_crop(image, face, CROP_SIZE)

    def score(self, sample: Sample) -> dict[str, float | None]:
        return {"lpips_to_input": self.distance(self.crop(sample.photo, sample.face), self.crop(sample.output, sample.face))}

    def describe(self) -> dict:
        return {"name": self.name, "net": self.net, "backbone": str(self.weights)}
