"""Does the toy generator draw the world? Measures of samples against drawings that the attribute gate
cannot see: blur, the look of the whole image, and attributes nobody asked for.

- `frechet_distance` of the toy judges' pooled features (both judges, 192 numbers per image for the committed ones): the FID
  recipe with the world's own networks in place of Inception, which has no weights here.
- `edge_energy`: mean gradient magnitude of the luminance; samples over drawings is 1 for sharp samples
  and falls as they blur.
- `unasked_share`: share of samples showing glasses, a hat or a non-neutral face when the prompt names
  none of that family (by the toy attribute judge).
- `psnr`: of the autoencoder's round trip, which bounds how sharp any sample can be.
Plain functions over arrays; `gates.py` decides what passes.
"""

from __future__ import annotations

import numpy as np
import torch

# Families whose default value an unmentioned prompt implies, and that default.
DEFAULTS = {"glasses": "none", "hat": "none", "expression": "neutral"}


@torch.no_grad()
def judge_features(judges, images) -> np.ndarray:
    """(n, features) pooled features of the attribute and identity judges, judged as the judges judge."""
    from freecure_edit.toyworld.judges import judge_pixels

    pixels = judge_pixels(images)
    parts = [net.features(pixels).mean(dim=(2, 3)) for net in (judges.attribute_net, judges.identity_net)]
    return torch.cat(parts, dim=1).double().numpy()


def _sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(values.clip(min=0))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature rows `a` and `b`.

    tr(sqrt(Sa Sb)) is taken as the sum of the square roots of the eigenvalues of sqrt(Sa) Sb sqrt(Sa),
    which is symmetric: no scipy, and no complex parts from a non-symmetric square root."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = _sqrtm_psd(cov_a)
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)
    value = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(cross).sum()
    return float(max(value, 0.0))


def edge_energy(images) -> float:
    """Mean gradient magnitude of the luminance (0..1 scale) over uint8 images (n, h, w, 3)."""
    grey = np.asarray(images, dtype=np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    dy = np.diff(grey, axis=1)[:, :, :-1]
    dx = np.diff(grey, axis=2)[:, :-1, :]
    return float(np.sqrt(dx ** 2 + dy ** 2).mean())


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 image stacks (over all pixels pooled)."""
    error = ((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2).mean()
    return float(10 * np.log10(255.0 ** 2 / max(error, 1e-12)))


def unasked_share(seen: list[dict], prompts: list[str]) -> dict[str, float]:
    """Per family and over all: share of samples showing a non-default value of a family their prompt
    does not name. `seen`: the attribute judge's reading of each sample."""
    from freecure_edit.toyworld.judges import asked_attributes

    flags = {family: [] for family in DEFAULTS}
    for reading, prompt in zip(seen, prompts):
        asked = asked_attributes(prompt)
        for family, default in DEFAULTS.items():
            if family not in asked:
                flags[family].append(reading[family] != default)
    shares = {f: float(np.mean(v)) if v else float("nan") for f, v in flags.items()}
    per_sample = []
    for reading, prompt in zip(seen, prompts):
        asked = asked_attributes(prompt)
        per_sample.append(any(reading[f] != d for f, d in DEFAULTS.items() if f not in asked))
    shares["any"] = float(np.mean(per_sample))
    return shares
