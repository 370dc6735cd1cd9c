"""What a front end shows before a cure: the faces in a photo, and the parser's masks of the regions a
prompt would cure, over the whole photo (a user then corrects them with a brush and sends them back
as the painted mask)."""

from __future__ import annotations

import numpy as np
import PIL.Image
import torch

from freecure_edit.masks import label_region
from freecure_edit.prompts import parse_prompt


def photo_faces(freecure, photo: PIL.Image.Image) -> list[dict]:
    """The detected faces, largest first (index 0 is what `faces="largest"` cures); [] without a
    detector, where the whole photo is cured."""
    analyzer = getattr(freecure, "face_analyzer", None)
    if analyzer is None:
        return []
    return [{"index": face.index, "box": [round(float(value), 1) for value in face.box],
             "score": round(float(face.score), 3)} for face in analyzer.detect(photo)]


@torch.no_grad()
def prompt_regions(freecure, photo: PIL.Image.Image, prompt: str) -> dict[str, np.ndarray]:
    """Per spatial attribute of `prompt`, the parser's region on `photo` as (H, W) floats in [0, 1],
    and "union"; an attribute without a region (an expression) has none here: APG cures it over the face."""
    attributes = [attribute for attribute in parse_prompt(prompt).attributes if attribute.labels]
    shape = (photo.height, photo.width)
    union = np.zeros(shape, dtype=np.float32)
    regions: dict[str, np.ndarray] = {}
    if attributes:
        parse = freecure.parser.parse(photo)
        for attribute in attributes:
            region = label_region(parse, attribute.labels, shape).clamp(0, 1).numpy()
            regions[attribute.name] = region
            union = np.maximum(union, region)
    regions["union"] = union
    return regions
