"""Peak memory and time of a FLUX cure against a plain FLUX generation at the same size, in one run.

    python benchmarks/flux.py --model tiny --size 64 --steps 4
    python benchmarks/flux.py --model flux-width --size 256 --steps 3 --double 1 --single 2

"tiny" is the test suite's tiny FLUX. "flux-width" is a FluxTransformer2DModel of FLUX.1's full width
(24 heads of 128 = 3072 channels, T5 width 4096, CLIP pooled 768, 64 packed input channels) with only
`--double` double-stream and `--single` single-stream blocks (FLUX.1 has 19 and 38: all of it in fp32
is 48 GB, more than this machine has), random weights, a narrow 8x autoencoder and one-layer text
encoders of the right widths. Each configuration runs in its own process, so each peak is its own:

- plain: FluxPipeline-style Euler sampling, N evaluations, one row each;
- cure: exact inversion (N + 1), the foundation pass recording FD's image keys and values at the FASA
  blocks (N), the photo pass with FASA (N), with the FD cache where the cure would keep it;
- cure, FD cache on the CPU: the GPU configuration (only run where there is a GPU).

On a CPU the peak is the process's resident memory (weights included), on a GPU the allocator's peak.
The printout ends with the cache size per FASA block and step, and what that is at 1024 px.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PROMPT = "a woman with black curly hair"
FLUX_CHANNELS = 3072
FLUX_BLOCKS = (19, 38)


def flux_width_pipeline(double: int, single: int, max_sequence_length: int, seed: int = 0):
    """FLUX.1's widths with few blocks, random weights, cheap text encoders and autoencoder."""
    import torch
    from diffusers import AutoencoderKL, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from freecure_edit.testing import BYTE_VOCAB_SIZE, tiny_clip_tokenizer
    from freecure_edit.testing.flux import flow_scheduler, tiny_t5_tokenizer

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=64, num_layers=double, num_single_layers=single, attention_head_dim=128,
        num_attention_heads=24, joint_attention_dim=4096, pooled_projection_dim=768, guidance_embeds=True,
        axes_dims_rope=(16, 56, 56),
    )
    with torch.no_grad():  # a smooth velocity, as trained weights give, so the cure's numbers are typical
        transformer.proj_out.weight.normal_(0.0, 2e-4)
    vae = AutoencoderKL(
        block_out_channels=(32, 32, 32, 32), down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=16, norm_num_groups=32, layers_per_block=1,
        use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.1159, scaling_factor=0.3611,
    )
    clip = CLIPTextModel(CLIPTextConfig(
        vocab_size=BYTE_VOCAB_SIZE, hidden_size=768, intermediate_size=768, num_hidden_layers=1,
        num_attention_heads=12, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1,
    ))
    t5 = T5EncoderModel(T5Config(
        vocab_size=BYTE_VOCAB_SIZE + 8, d_model=4096, d_kv=64, d_ff=256, num_layers=1, num_heads=2,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    ))
    tokenizer_2 = tiny_t5_tokenizer()
    tokenizer_2.model_max_length = max_sequence_length
    pipe = FluxPipeline(scheduler=flow_scheduler("dev"), vae=vae, text_encoder=clip, tokenizer=tiny_clip_tokenizer(),
                        text_encoder_2=t5, tokenizer_2=tokenizer_2, transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build(args, workdir: str):
    import torch

    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.testing import save_tiny_pipeline

    if args.model == "tiny":
        folder = save_tiny_pipeline("flux", Path(workdir) / "tiny-flux", unet_variant="smooth")
        return load_pipeline(folder, device="cpu")
    pipe = flux_width_pipeline(args.double, args.single, args.max_sequence_length)
    if torch.cuda.is_available():
        pipe.to("cuda", torch.bfloat16)
    return pipe


def half_face_parser():
    """Hair over the top third: a fixed region, so the measurement does not depend on a parser."""
    import torch

    from freecure_edit.masks import CANONICAL_LABELS, FaceParser

    class TopThirdParser(FaceParser):
        name = "top-third"
        labels = CANONICAL_LABELS

        def _parse_rgb(self, image):
            width, height = image.size
            maps = {label: torch.zeros(height, width) for label in CANONICAL_LABELS}
            maps["hair"][: height // 3] = 1.0
            return maps

    return TopThirdParser()


def run_one(args) -> dict:
    import numpy as np
    import PIL.Image
    import torch

    from common import machine_line, peak_memory_mib
    from freecure_edit import CureConfig, FreeCure
    from freecure_edit.backbones import backbone_for

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        pipe = build(args, workdir)
        backbone = backbone_for(pipe)
        loaded_mib = peak_memory_mib()
        rng = np.random.default_rng(0)
        photo = PIL.Image.fromarray((rng.random((args.size // 8, args.size // 8, 3)) * 255).astype("uint8"))
        photo = photo.resize((args.size, args.size), PIL.Image.BICUBIC)
        started = time.perf_counter()
        record = {"configuration": args.configuration, "machine": machine_line()}
        if args.configuration == "plain":
            with torch.no_grad():
                pixels = backbone.image_to_tensor(photo)
                latent_size = tuple(backbone.encode_image(pixels).shape[-2:])
                schedule = backbone.schedule(args.steps, latent_size)
                rows = backbone.with_guidance(backbone.encode_prompt(PROMPT).cond, 3.5)
                z = torch.randn(1, 16, *latent_size)
                for i in range(args.steps):
                    z = schedule.step(z, backbone.denoise(z, schedule.timesteps[i], rows), i)
                backbone.tensor_to_image(backbone.decode(z))
            record["evaluations"] = backbone.counter.evaluations
        else:
            cache = "cpu" if args.configuration == "cure-cache-cpu" else None
            config = CureConfig(steps=args.steps, guidance=3.5, working_size=args.size, fd_cache_device=cache)
            fc = FreeCure(pipe, parser=half_face_parser())
            result = fc.cure(photo, PROMPT, config)
            record["evaluations"] = result.stats.total_evaluations
            record["fd_cache_mib"] = result.stats.fd_cache_bytes / 2**20
            record["phases"] = {k: round(v, 2) for k, v in result.stats.seconds.items()}
        record["seconds"] = time.perf_counter() - started
        record["peak_mib"] = peak_memory_mib()
        record["after_loading_mib"] = loaded_mib
        record["image_tokens"] = (args.size // backbone.vae_scale_factor // 2) ** 2
        record["fasa_blocks"] = 1 if args.model == "tiny" else max(1, args.single - args.single // 2)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["tiny", "flux-width"], default="tiny")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--double", type=int, default=1)
    parser.add_argument("--single", type=int, default=2)
    parser.add_argument("--max-sequence-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configuration", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.configuration is not None:
        print(json.dumps(run_one(args)))
        return

    import torch

    records = []
    # Without a GPU the cache is on the CPU either way, so the third configuration would repeat the second.
    configurations = ("plain", "cure", "cure-cache-cpu") if torch.cuda.is_available() else ("plain", "cure")
    for configuration in configurations:
        command = [sys.executable, __file__, "--configuration", configuration] + sys.argv[1:]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        records.append(json.loads(output.strip().splitlines()[-1]))
    plain = records[0]
    print(records[0]["machine"])
    print(f"model {args.model}, {args.size} px, {args.steps} steps, {plain['image_tokens']} image tokens")
    for record in records:
        extra = f", FD cache {record['fd_cache_mib']:.1f} MiB" if "fd_cache_mib" in record else ""
        print(
            f"{record['configuration']:>15}: {record['evaluations']:3d} evaluations, {record['seconds']:7.1f} s "
            f"({record['seconds'] / plain['seconds']:.2f}x), peak {record['peak_mib']:8.0f} MiB "
            f"({record['peak_mib'] / plain['peak_mib']:.3f}x; after loading {record['after_loading_mib']:.0f}){extra}"
        )
    cure = records[1]
    if cure.get("fd_cache_mib"):
        per_entry = cure["fd_cache_mib"] / (cure["fasa_blocks"] * args.steps)
        print(f"FD cache per FASA block and step: {per_entry:.2f} MiB at {plain['image_tokens']} tokens")
    at_1024 = 4096 * FLUX_CHANNELS * 2 * 2 / 2**20
    print(f"at 1024 px in bf16: {at_1024:.0f} MiB per block and step; all {sum(FLUX_BLOCKS)} blocks x 28 steps "
          f"{at_1024 * sum(FLUX_BLOCKS) * 28 / 2**10:.0f} GiB; the default 19 blocks x 28 steps "
          f"{at_1024 * 19 * 28 / 2**10:.1f} GiB (on the CPU when the model is on a GPU)")
    print(json.dumps(records))


if __name__ == "__main__":
    main()
