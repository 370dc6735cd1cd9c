"""The toy world's judges: stand-ins for CLIP-T (attributes) and ArcFace (identity).

Both are small CNNs trained on the world's ground truth and saved as safetensors with a JSON config:
`attributes.safetensors` predicts one value per attribute family, `identity.safetensors` maps a portrait
to an L2-normalised embedding whose cosine is high for the same identity. Images are judged at 64 px.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from freecure_edit.toyworld.world import EXPRESSIONS, FAMILIES, GLASSES, HAIR_COLOURS, HAIR_STYLES, HATS

JUDGE_SIZE = 64
EMBEDDING_DIM = 32
ATTRIBUTE_FILE = "attributes.safetensors"
IDENTITY_FILE = "identity.safetensors"
CONFIG_FILE = "judges.json"

# Words of a prompt or caption -> (family, value); multi-word phrases first.
_PHRASES: tuple[tuple[str, str, str], ...] = (
    ("without glasses", "glasses", "none"), ("no glasses", "glasses", "none"),
    ("without sunglasses", "glasses", "none"), ("without a hat", "hat", "none"), ("no hat", "hat", "none"),
    ("neutral", "expression", "neutral"), ("sunglasses", "glasses", "sunglasses"),
    ("round glasses", "glasses", "round"), ("glasses", "glasses", "round"), ("hat", "hat", "hat"),
    ("smiling", "expression", "smiling"), ("smile", "expression", "smiling"),
    ("surprised", "expression", "surprised"), ("open mouth", "expression", "surprised"),
) + tuple((c, "hair_colour", c) for c in HAIR_COLOURS) + tuple((s, "hair_style", s) for s in HAIR_STYLES)


class JudgeNet(torch.nn.Module):
    """Four strided convolutions, global pooling, then one linear head per output."""

    def __init__(self, heads: dict[str, int], width: int = 32):
        super().__init__()
        layers, channels = [], 3
        for out in (width, width * 2, width * 2, width * 4):
            layers += [torch.nn.Conv2d(channels, out, 3, stride=2, padding=1), torch.nn.BatchNorm2d(out), torch.nn.SiLU()]
            channels = out
        self.features = torch.nn.Sequential(*layers)
        self.heads = torch.nn.ModuleDict({name: torch.nn.Linear(channels, size) for name, size in heads.items()})

    def forward(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.features(pixels).mean(dim=(2, 3))
        return {name: head(pooled) for name, head in self.heads.items()}


def attribute_heads() -> dict[str, int]:
    return {family: len(values) for family, values in FAMILIES.items()}


def identity_heads() -> dict[str, int]:
    return {"embedding": EMBEDDING_DIM}


def judge_pixels(images) -> torch.Tensor:
    """PIL images or uint8 arrays (n, h, w, 3) -> (n, 3, 64, 64) floats in [-1, 1]."""
    if isinstance(images, np.ndarray) and images.ndim == 4:
        arrays = list(images)
    else:
        arrays = [np.asarray(im.convert("RGB") if isinstance(im, Image.Image) else im) for im in images]
    resized = [a if a.shape[:2] == (JUDGE_SIZE, JUDGE_SIZE)
               else np.asarray(Image.fromarray(a).resize((JUDGE_SIZE, JUDGE_SIZE), Image.LANCZOS)) for a in arrays]
    stacked = np.stack(resized).astype(np.float32)
    return torch.from_numpy(stacked).permute(0, 3, 1, 2) / 127.5 - 1.0


def asked_attributes(prompt: str) -> dict[str, str]:
    """The attribute values a prompt in the world's wording asks for, by family."""
    text = " " + prompt.lower().replace(",", " ") + " "
    asked: dict[str, str] = {}
    for phrase, family, value in _PHRASES:
        needle = f" {phrase} "
        if needle in text:
            asked.setdefault(family, value)
            text = text.replace(needle, " ")
    return asked


@dataclass
class ToyJudges:
    attribute_net: JudgeNet
    identity_net: JudgeNet

    @torch.no_grad()
    def attributes(self, images) -> list[dict[str, str]]:
        """The value each attribute family shows in each image."""
        logits = self.attribute_net(judge_pixels(images))
        picks = {family: logits[family].argmax(dim=1).tolist() for family in FAMILIES}
        return [{family: FAMILIES[family][picks[family][i]] for family in FAMILIES} for i in range(len(picks["hat"]))]

    def prompt_consistency(self, image, prompt: str) -> float:
        """Share of the attributes `prompt` asks for that the judge sees in `image` (1.0 if it asks none).

        "round glasses" and "sunglasses" are told apart; a bare "glasses" is satisfied by either kind."""
        asked = asked_attributes(prompt)
        if not asked:
            return 1.0
        seen = self.attributes([image])[0]
        bare_glasses = " glasses" in " " + prompt.lower() and "round glasses" not in prompt.lower() \
            and asked.get("glasses") == "round"
        hits = 0
        for family, value in asked.items():
            if family == "glasses" and bare_glasses:
                hits += seen["glasses"] != "none"
            else:
                hits += seen[family] == value
        return hits / len(asked)

    @torch.no_grad()
    def identity_embeddings(self, images) -> np.ndarray:
        embedding = self.identity_net(judge_pixels(images))["embedding"]
        return torch.nn.functional.normalize(embedding, dim=1).numpy()

    def identity_similarity(self, a, b) -> float:
        """Cosine of the identity embeddings of two images."""
        ea, eb = self.identity_embeddings([a, b])
        return float(np.dot(ea, eb))


def save_judges(folder, attribute_net: JudgeNet, identity_net: JudgeNet, width: int, half: bool = True) -> list[Path]:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, net in ((ATTRIBUTE_FILE, attribute_net), (IDENTITY_FILE, identity_net)):
        state = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in net.state_dict().items()}
        save_file(state, str(folder / name))
        written.append(folder / name)
    config = {"width": width, "size": JUDGE_SIZE, "embedding_dim": EMBEDDING_DIM,
              "families": {k: list(v) for k, v in FAMILIES.items()}}
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    written.append(folder / CONFIG_FILE)
    return written


def load_judges(folder=None) -> ToyJudges:
    """The judges saved in `folder` (default: the committed ones)."""
    from safetensors.torch import load_file

    if folder is None:
        from freecure_edit.toyworld.assets import model_dir

        folder = model_dir("judges")
    folder = Path(folder)
    config = json.loads((folder / CONFIG_FILE).read_text())
    if config["families"] != {k: list(v) for k, v in FAMILIES.items()}:
        raise ValueError(f"the judges in {folder} were trained on other attribute values than this world's")
    nets = []
    for name, heads in ((ATTRIBUTE_FILE, attribute_heads()), (IDENTITY_FILE, identity_heads())):
        net = JudgeNet(heads, width=config["width"])
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(folder / name)).items()}
        net.load_state_dict(state)
        nets.append(net.eval())
    return ToyJudges(*nets)


__all__ = ["EXPRESSIONS", "GLASSES", "HATS", "JudgeNet", "ToyJudges", "asked_attributes", "load_judges", "save_judges"]
