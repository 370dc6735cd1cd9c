"""Metrics by name (rembg-like): each backend in its own file, loaded the way its ecosystem loads it.

    metric = load_metric("clip", model="openai/clip-vit-large-patch14")
    metric.score(Sample(photo, output, prompt))   # {"pc": 0.27}

| name | values | through |
| --- | --- | --- |
| clip | pc (CLIP-T) | transformers CLIPModel |
| arcface | if | insightface (antelopev2, or buffalo_l) |
| dlib | if | the dlib face pack (1 - embedding distance) |
| lpips | lpips_to_input, and face diversity between seeds | lpips |
| psnr | psnr_outside_mask | numpy, with the cure's mask |
| toy | pc, if; for toy drawings, ideal_mae_in/out, ideal_ssim_in/out | the toy world's judges, and its redraw of the ideal edit |
"""

from __future__ import annotations

from freecure_edit.errors import ConfigurationError
from freecure_edit.evaluation.metrics.base import Metric, Sample, face_crop

METRICS = ("clip", "arcface", "dlib", "lpips", "psnr", "toy")
DEFAULT_METRICS = ("clip", "arcface", "lpips", "psnr")


def load_metric(name: str, **options) -> Metric:
    """Load metric `name` with its options (model, pack, root, net, folder, device); a missing model
    raises ModelNotFoundError, an unknown name ConfigurationError."""
    device = options.get("device", "cpu")
    if name == "clip":
        from freecure_edit.evaluation.metrics.clip import ClipMetric

        return ClipMetric(options.get("clip_model"), device=device)
    if name == "arcface":
        from freecure_edit.evaluation.metrics.arcface import ArcFaceMetric

        return ArcFaceMetric(options.get("face_pack"), options.get("face_root"), options.get("providers"))
    if name == "dlib":
        from freecure_edit.evaluation.metrics.dlib import DlibMetric

        return DlibMetric()
    if name == "lpips":
        from freecure_edit.evaluation.metrics.lpips import LpipsMetric

        return LpipsMetric(options.get("lpips_net") or "alex", device=device)
    if name == "psnr":
        from freecure_edit.evaluation.metrics.psnr import PsnrOutsideMaskMetric

        return PsnrOutsideMaskMetric()
    if name == "toy":
        from freecure_edit.evaluation.metrics.toy import ToyMetric

        return ToyMetric(options.get("toy_judges"))
    raise ConfigurationError(f"unknown metric {name!r}; use one of {', '.join(METRICS)}")


def check_metric_names(names) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ConfigurationError(f"unknown metric {unknown[0]!r}; use one of {', '.join(METRICS)}")
    if not names:
        raise ConfigurationError(f"no metric given; use some of {', '.join(METRICS)}")
    return names


__all__ = ["DEFAULT_METRICS", "METRICS", "Metric", "Sample", "check_metric_names", "face_crop", "load_metric"]
