"""Shared pieces of the benchmarks: models to measure on, timing and memory readings.

Real weights cannot be downloaded here, so speed is measured on random-weight models of the real size
(an SD 1.5-shaped UNet costs what SD 1.5 costs, whatever its weights) and on the tiny test models.
"""

from __future__ import annotations

import os
import platform
import resource
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402


def sd15_sized_pipeline(seed: int = 0):
    """Stable Diffusion 1.5's architecture at full size, with random weights (~1 GB in fp32)."""
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from freecure_edit.testing.common import BYTE_VOCAB_SIZE, tiny_clip_tokenizer
    from freecure_edit.testing.sd import ddim_scheduler

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        sample_size=64,
        cross_attention_dim=768,
        attention_head_dim=8,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
    )
    # Conv_out shrunk as in the smooth test models, so that inversion behaves as with trained weights.
    with torch.no_grad():
        unet.conv_out.weight.normal_(0.0, 2e-4)
        unet.conv_out.bias.zero_()
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=2,
        sample_size=512,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=BYTE_VOCAB_SIZE, hidden_size=768, intermediate_size=3072,
            num_hidden_layers=12, num_attention_heads=12, max_position_embeddings=77,
            bos_token_id=0, eos_token_id=1, pad_token_id=1,
        )
    )
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tiny_clip_tokenizer(), unet=unet,
        scheduler=ddim_scheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_benchmark_pipeline(name: str, workdir):
    """"tiny" and "tiny-sdxl" go through the real loader from a saved folder; "sd15" is built in memory."""
    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.testing import save_tiny_pipeline

    if name == "sd15":
        return sd15_sized_pipeline()
    kind = {"tiny": "sd", "tiny-sdxl": "sdxl"}[name]
    folder = save_tiny_pipeline(kind, os.path.join(workdir, name), unet_variant="smooth")
    return load_pipeline(folder, device="cpu")


def seconds_per_evaluation(backbone, latent_shape, batch: int = 1, repeats: int = 3) -> float:
    """Median time of one denoiser call on `batch` rows, divided by the rows."""
    pair = backbone.encode_prompt("a photo of a person")
    rows = pair.cond.repeat(batch)
    latents = torch.randn(batch, *latent_shape[1:])
    timings = []
    with torch.no_grad():
        backbone.denoise(latents, 500, rows)
        for _ in range(repeats):
            started = time.perf_counter()
            backbone.denoise(latents, 500, rows)
            timings.append(time.perf_counter() - started)
    return sorted(timings)[len(timings) // 2] / batch


def peak_memory_mib() -> float:
    """Peak GPU memory when on a GPU, else the process's peak resident memory."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_line() -> str:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"
    return (
        f"{platform.machine()} {device}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def psnr(a, b) -> float:
    import numpy as np

    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def fit_fixed_and_per_step(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line through (steps, seconds): (fixed seconds, seconds per step)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    return mean_y - slope * mean_x, slope
