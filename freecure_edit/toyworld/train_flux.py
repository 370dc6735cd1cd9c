"""Train the toy world's FLUX: a tiny FluxTransformer2DModel, flow matching on the toy SD's latents.

    python -m freecure_edit.toyworld.train_flux OUT_DIR [--sd DIR] [--teacher DIR] [--quick] [--threads N]
        [--guidance-interval LOW HIGH | --guidance-everywhere]

OUT_DIR gets a diffusers FluxPipeline folder (load it with `--model OUT_DIR` like any FLUX folder) and a
manifest.json (command, settings, seed, versions, sha256 per file, seconds). It must not exist: the
command refuses to overwrite (remove it first). Everything is written to a sibling folder and renamed
into place at the end.

What it is made of, and why:
- the same world's drawings, encoded by the toy SD's trained autoencoder (4 latent channels, scale 4:
  64 px drawings are 16x16 latents, 8x8 = 64 packed tokens of 16 channels, so `in_channels` is 4 x 4);
  FluxPipeline reads `shift_factor`, which the SD autoencoder lacks: 0 is registered;
- the pooled embedding from the toy SD's trained CLIP text encoder, which knows the attribute words;
- the sequence from a tiny T5 encoder with random weights, frozen. Both text encoders are frozen so their
  outputs for every caption are computed once: training is then the transformer alone, which is what
  fits the time (a trained T5 would cost a forward and backward pass per step). A random encoder still
  gives every byte-token a distinct vector, and the transformer's joint attention learns to read them;
- partial captions drawn by the rules the toy SD was trained with (captions.SD_RULES: present glasses,
  hats and expressions always named, hair words often left out, phrases in varied order), as users and
  the cure's foundation branch write prompts. The toy SD draws a new caption at every step; here the
  encoders are frozen and run once, so each drawing gets a bank of `captions_per_drawing` drawn captions
  (`caption_bank`), all encoded up front, and every step picks one of them at random per drawing;
- FLUX.1-dev's shape in miniature (double-stream then single-stream blocks, RoPE over three axes, a
  guidance embedding, dev's dynamically shifted flow-matching schedule);
- two phases, as FLUX.1-dev was made. The teacher: the rectified-flow loss, x_s = (1 - s) x_0 + s e,
  the transformer predicts e - x_0, with s drawn logit-normal as FLUX's training does, a tenth of the
  captions dropped to "" (its guidance input is fed random values, so it learns to ignore it). Then
  guidance distillation: the student, initialised from the teacher, is fed g drawn uniformly in
  GUIDANCE_RANGE and learns the teacher's classifier-free guided velocity v_u + g (v_c - v_u) in one
  row at the noise levels of GUIDANCE_INTERVAL, and its conditional velocity v_c at the others (guidance
  at every level drew saturated colours and mottled backgrounds); dropped captions learn the teacher's
  v_u (FluxPipeline's true CFG against a negative prompt relies on it). Why distil: measured on a
  1500-step teacher, its guidance input moved the velocity by 1-2%, so "guidance 3.5" meant no
  guidance, and fresh samples showed the asked hair colour 10 of 18 times;
  with true CFG 3 it was 16 of 18 and with 6 18 of 18, while the text features were not the limit (a
  linear probe reads the hair colour from the pooled CLIP and from the T5 sequence without error).
  `--teacher DIR` starts the distillation from a teacher trained before (a folder this command wrote
  with `--distill-steps 0`), so the two phases can run as two commands.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

SEED = 6
# The toy T5 reads captions as bytes: the longest caption of the world is 77 characters.
SEQUENCE_LENGTH = 80
T5_WIDTH = 32
CAPTION_DROPOUT = 0.1
# The distilled guidance scales: FluxPipeline's 3.5 lies inside, and the toy experiment can go higher.
GUIDANCE_RANGE = (1.0, 7.0)
# The noise levels (the sigma the transformer is fed) at which the distillation target is the teacher's
# guided velocity; outside it the target is the teacher's conditional velocity, whatever g is fed.
# Guidance applied in a limited interval (Kynkäänniemi et al. 2024): at the highest noise it pushes every
# sample to the same saturated colours, at the lowest it only adds texture. Measured on the 14000-step
# teacher with true CFG 5 (25 steps, 96 partial prompts against 400 drawings, the gate's sets): Fréchet
# 6.06 at every level, mottled backgrounds and coloured halos round the heads; 4.69 in [0.1, 0.7] (asked
# attributes seen 0.969 -> 0.985); on 96 other prompts 5.98 -> 4.09. [0.1, 0.8] 4.97 / 4.30, [0, 0.7]
# 4.78 / 4.16, CFG rescale 0.7 on x0 5.19 (README, "Toy world: FLUX").
GUIDANCE_INTERVAL = (0.1, 0.7)


@dataclass(frozen=True)
class FluxSettings:
    drawings: int = 3000
    steps: int = 1500
    batch: int = 24
    lr: float = 2e-3
    distill_steps: int = 300
    distill_lr: float = 1e-3
    # Partial captions drawn per drawing by captions.SD_RULES and encoded once (the text encoders are
    # frozen, so a fresh draw per step as the toy SD has would cost an encoder pass per step).
    captions_per_drawing: int = 8
    # None: guidance at every noise level (how the toy FLUX before issue 27's realism gate was distilled).
    guidance_interval: tuple[float, float] | None = GUIDANCE_INTERVAL


QUICK = FluxSettings(drawings=16, steps=2, batch=4, distill_steps=2, captions_per_drawing=2)


def transformer_config(latent_channels: int, pooled_width: int) -> dict:
    return dict(
        patch_size=1,
        in_channels=4 * latent_channels,  # 2x2 packing
        num_layers=2,
        num_single_layers=4,
        attention_head_dim=16,
        num_attention_heads=4,
        joint_attention_dim=T5_WIDTH,
        pooled_projection_dim=pooled_width,
        guidance_embeds=True,
        axes_dims_rope=(4, 6, 6),  # sums to the head dim
    )


def _t5(seed: int):
    from transformers import T5Config, T5EncoderModel

    from freecure_edit.testing import BYTE_VOCAB_SIZE

    torch.manual_seed(seed)
    return T5EncoderModel(T5Config(
        vocab_size=BYTE_VOCAB_SIZE + 8, d_model=T5_WIDTH, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )).eval()


def _t5_tokenizer():
    from freecure_edit.testing.flux import tiny_t5_tokenizer

    tokenizer = tiny_t5_tokenizer()
    tokenizer.model_max_length = SEQUENCE_LENGTH
    return tokenizer


def build_pipeline(sd_pipe, transformer, t5, t5_tokenizer):
    """A FluxPipeline from the toy SD's autoencoder and CLIP, the tiny T5 and the trained transformer."""
    import copy

    from diffusers import FluxPipeline

    from freecure_edit.testing.flux import flow_scheduler

    vae = copy.deepcopy(sd_pipe.vae)
    vae.register_to_config(shift_factor=0.0)
    pipe = FluxPipeline(scheduler=flow_scheduler("dev"), vae=vae, text_encoder=sd_pipe.text_encoder,
                        tokenizer=sd_pipe.tokenizer, text_encoder_2=t5, tokenizer_2=t5_tokenizer,
                        transformer=transformer)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def caption_bank(specs, per_drawing: int, seed: int, rules=None) -> list[list[str]]:
    """`per_drawing` partial captions of each of `specs`, drawn by `rules` (the toy SD's by default) from
    one seeded stream: the same bank for the same drawings and seed, so a teacher and its student see the
    same captions."""
    import numpy as np

    from freecure_edit.toyworld.captions import SD_RULES, sample_caption

    rules = SD_RULES if rules is None else rules
    rng = np.random.default_rng([seed, 27])
    return [[sample_caption(spec, rng, rules) for _ in range(per_drawing)] for spec in specs]


@torch.no_grad()
def _text_inputs(pipe, captions: list[str], batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """T5 sequences and pooled CLIP embeddings of `captions`, through FluxPipeline's own encoding."""
    sequences, pooled = [], []
    for start in range(0, len(captions), batch):
        sequence, pool, _ = pipe.encode_prompt(prompt=captions[start:start + batch], prompt_2=None, device="cpu",
                                               num_images_per_prompt=1, max_sequence_length=SEQUENCE_LENGTH)
        sequences.append(sequence)
        pooled.append(pool)
    return torch.cat(sequences), torch.cat(pooled)


class _Batches:
    """The caption bank encoded once, and random training batches drawn from it and the latents: one of
    each drawing's captions picked at random, captions dropped to "" at CAPTION_DROPOUT, noise and a
    logit-normal sigma, in one fixed order of draws."""

    def __init__(self, pipe, latents: torch.Tensor, bank: list[list[str]]):
        from freecure_edit.backbones.flux import image_position_ids

        if len(bank) != len(latents) or len({len(row) for row in bank}) != 1:
            raise ValueError("the caption bank needs the same number of captions for every drawing")
        self.latents = latents
        self.per_drawing = len(bank[0])
        sequences, pooled = _text_inputs(pipe, [caption for row in bank for caption in row])
        # (drawing, caption) first, so that a drawing's captions sit side by side.
        self.sequences = sequences.reshape(len(bank), self.per_drawing, *sequences.shape[1:])
        self.pooled = pooled.reshape(len(bank), self.per_drawing, *pooled.shape[1:])
        self.empty_sequence, self.empty_pooled = _text_inputs(pipe, [""])
        self.image_ids = image_position_ids(*latents.shape[-2:])
        self.text_ids = torch.zeros(self.sequences.shape[2], 3)

    def draw(self, batch: int, generator: torch.Generator):
        """(sequence, pooled, clean latents, noise, sigma) of one batch."""
        index = torch.randint(len(self.latents), (batch,), generator=generator)
        column = torch.randint(self.per_drawing, (batch,), generator=generator)
        sequence, pool = self.sequences[index, column].clone(), self.pooled[index, column].clone()
        dropped = torch.rand(batch, generator=generator) < CAPTION_DROPOUT
        sequence[dropped], pool[dropped] = self.empty_sequence[0], self.empty_pooled[0]
        clean = self.latents[index]
        noise = torch.randn(clean.shape, generator=generator)
        sigma = torch.sigmoid(torch.randn(batch, generator=generator))
        return sequence, pool, clean, noise, sigma


def train_transformer(pipe, latents: torch.Tensor, bank: list[list[str]], settings: FluxSettings, log=print):
    """Flow matching on `latents` (already scaled) with the pipeline's frozen text encoders; `bank`:
    each drawing's captions (`caption_bank`)."""
    from freecure_edit.backbones.flux import pack_latents, unpack_latents

    transformer = pipe.transformer
    batches = _Batches(pipe, latents, bank)
    height, width = latents.shape[-2:]
    optimiser = torch.optim.AdamW(transformer.parameters(), lr=settings.lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(SEED)
    transformer.train()
    for step in range(settings.steps):
        sequence, pool, clean, noise, sigma = batches.draw(settings.batch, generator)
        noisy = (1 - sigma[:, None, None, None]) * clean + sigma[:, None, None, None] * noise
        guidance = 1.0 + 4.0 * torch.rand(settings.batch, generator=generator)
        velocity = transformer(hidden_states=pack_latents(noisy), timestep=sigma, guidance=guidance,
                               pooled_projections=pool, encoder_hidden_states=sequence, txt_ids=batches.text_ids,
                               img_ids=batches.image_ids, return_dict=False)[0]
        loss = F.mse_loss(unpack_latents(velocity, height, width), noise - clean)
        _optimise(optimiser, loss, transformer, settings.lr, step, settings.steps)
        if step % 10 == 0 or step == settings.steps - 1:
            log(f"flux step {step}/{settings.steps} loss {loss.item():.4f}")
    return transformer.eval()


def _optimise(optimiser, loss, model, peak_lr: float, step: int, steps: int) -> None:
    from freecure_edit.toyworld.train_generator import _set_lr

    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimiser.step()
    _set_lr(optimiser, peak_lr, step, steps)


def guided_target(conditional: torch.Tensor, unconditional: torch.Tensor, guidance: torch.Tensor,
                  sigma: torch.Tensor, interval: tuple[float, float] | None) -> torch.Tensor:
    """The distillation target of each row: v_u + g (v_c - v_u) where its sigma lies in `interval` (all
    rows when it is None), the conditional velocity v_c elsewhere."""
    if interval is not None:
        inside = (sigma >= interval[0]) & (sigma <= interval[1])
        guidance = torch.where(inside, guidance, torch.ones_like(guidance))
    return unconditional + guidance[:, None, None] * (conditional - unconditional)


def distil_guidance(teacher, pipe, latents: torch.Tensor, bank: list[list[str]], settings: FluxSettings,
                    log=print):
    """Guidance distillation: `pipe.transformer` (a copy of `teacher`) learns, for g fed to its guidance
    embedding, the teacher's guided velocity v_u + g (v_c - v_u) on the same caption bank. Returns the
    student."""
    from freecure_edit.backbones.flux import pack_latents

    student = pipe.transformer
    teacher.eval().requires_grad_(False)
    batches = _Batches(pipe, latents, bank)
    empty_sequence, empty_pooled = batches.empty_sequence, batches.empty_pooled
    text_ids, image_ids = batches.text_ids, batches.image_ids
    optimiser = torch.optim.AdamW(student.parameters(), lr=settings.distill_lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(SEED + 1)
    low, high = GUIDANCE_RANGE
    batch = settings.batch
    student.train()
    for step in range(settings.distill_steps):
        sequence, pool, clean, noise, sigma = batches.draw(batch, generator)
        noisy = pack_latents((1 - sigma[:, None, None, None]) * clean + sigma[:, None, None, None] * noise)
        guidance = low + (high - low) * torch.rand(batch, generator=generator)
        with torch.no_grad():
            # One teacher call for both rows; its guidance input is fed 1 (it learnt to ignore it).
            both = teacher(hidden_states=noisy.repeat(2, 1, 1), timestep=sigma.repeat(2), guidance=torch.ones(2 * batch),
                           pooled_projections=torch.cat([pool, empty_pooled.expand_as(pool)]),
                           encoder_hidden_states=torch.cat([sequence, empty_sequence.expand_as(sequence)]),
                           txt_ids=text_ids, img_ids=image_ids, return_dict=False)[0]
            target = guided_target(*both.chunk(2), guidance, sigma, settings.guidance_interval)
        velocity = student(hidden_states=noisy, timestep=sigma, guidance=guidance, pooled_projections=pool,
                           encoder_hidden_states=sequence, txt_ids=text_ids, img_ids=image_ids, return_dict=False)[0]
        loss = F.mse_loss(velocity, target)
        _optimise(optimiser, loss, student, settings.distill_lr, step, settings.distill_steps)
        if step % 10 == 0 or step == settings.distill_steps - 1:
            log(f"distil step {step}/{settings.distill_steps} loss {loss.item():.4f}")
    return student.eval()


def train_flux(out: Path, sd_folder: Path, settings: FluxSettings, command: str = "",
               teacher_folder: Path | None = None) -> dict:
    """Train into `out` (which must not exist) and return the manifest written there. With
    `teacher_folder` (a toy FLUX folder), its transformer is the teacher and only the distillation runs."""
    import copy

    from diffusers import FluxTransformer2DModel

    from freecure_edit.models.devices import dtype_kwarg
    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.toyworld.captions import SD_RULES
    from freecure_edit.toyworld.data import TRAIN_SEED_BASE, drawing_set
    from freecure_edit.toyworld.train import SEEDS, _log, _sha256, _versions
    from freecure_edit.toyworld.train_generator import encode

    if teacher_folder is not None:
        settings = replace(settings, steps=0)  # no teacher is trained: the manifest says so
    began = time.perf_counter()
    seconds = {}
    sd_pipe = load_pipeline(str(sd_folder), device="cpu")  # fp32 on the CPU
    data = drawing_set(settings.drawings, TRAIN_SEED_BASE + SEEDS["drawings"])
    start = time.perf_counter()
    vae = sd_pipe.vae
    latents = encode(vae, data.pixels()) * vae.config.scaling_factor  # shift factor 0
    seconds["latents"] = time.perf_counter() - start
    _log(f"{len(data)} drawings encoded to {tuple(latents.shape[1:])} latents in {seconds['latents']:.1f} s")
    bank = caption_bank(data.specs, settings.captions_per_drawing, TRAIN_SEED_BASE + SEEDS["drawings"])

    torch.manual_seed(SEED)
    transformer = FluxTransformer2DModel(**transformer_config(vae.config.latent_channels,
                                                              sd_pipe.text_encoder.config.hidden_size))
    t5 = _t5(SEED)
    teacher_manifest = None
    if teacher_folder is not None:
        teacher_manifest = _check_teacher(teacher_folder, t5, sd_folder)
        transformer = FluxTransformer2DModel.from_pretrained(str(teacher_folder), subfolder="transformer",
                                                             **dtype_kwarg(torch.float32))
    pipe = build_pipeline(sd_pipe, transformer, t5, _t5_tokenizer())
    if teacher_folder is None:
        start = time.perf_counter()
        train_transformer(pipe, latents, bank, settings, log=_log)
        seconds["transformer"] = time.perf_counter() - start
    if settings.distill_steps:
        start = time.perf_counter()
        teacher = copy.deepcopy(pipe.transformer)
        distil_guidance(teacher, pipe, latents, bank, settings, log=_log)
        seconds["distillation"] = time.perf_counter() - start
        del teacher
    _save_half(pipe, out)
    seconds["total_wall"] = time.perf_counter() - began
    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {
        "command": command,
        "settings": asdict(settings),
        "seed": SEED,
        "drawing_seed": TRAIN_SEED_BASE + SEEDS["drawings"],
        "sd_folder": str(sd_folder),
        "sd_vae_sha256": _sha256(Path(sd_folder) / "vae" / "diffusion_pytorch_model.safetensors"),
        "sd_text_encoder_sha256": _sha256(Path(sd_folder) / "text_encoder" / "model.safetensors"),
        "caption_rules": asdict(SD_RULES),
        "guidance_range": list(GUIDANCE_RANGE) if settings.distill_steps else None,
        "guidance_interval": (list(settings.guidance_interval)
                              if settings.distill_steps and settings.guidance_interval else None),
        "teacher": teacher_manifest,
        "threads": torch.get_num_threads(),
        "versions": _versions(),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "files": {str(p.relative_to(out)): _sha256(p) for p in files},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def teacher_files_problem(folder: Path) -> str | None:
    """Why `folder` cannot be a teacher, from its files alone (checked before anything is loaded), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not (folder / "manifest.json").is_file():
        return f"{folder} has no manifest.json: not a toy FLUX this command wrote"
    if not any((folder / "transformer").glob("*.safetensors")):
        return f"{folder} has no transformer weights (transformer/*.safetensors)"
    return None


def _check_teacher(folder: Path, t5, sd_folder: Path) -> dict:
    """The teacher folder's manifest, after checking it was trained on the same encoders (its T5 equals
    this command's in fp16, its autoencoder and CLIP came from the same SD weights)."""
    from transformers import T5EncoderModel

    from freecure_edit.toyworld.train import _sha256

    problem = teacher_files_problem(folder)
    if problem:
        raise ValueError(problem)
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    saved = T5EncoderModel.from_pretrained(str(folder), subfolder="text_encoder_2", torch_dtype=torch.float16).state_dict()
    ours = {k: v.half() for k, v in t5.state_dict().items()}
    if saved.keys() != ours.keys() or any(not torch.equal(saved[k], ours[k]) for k in ours):
        raise ValueError(f"{folder}'s T5 differs from this command's: it was trained with other settings")
    vae_sha = _sha256(Path(sd_folder) / "vae" / "diffusion_pytorch_model.safetensors")
    if manifest.get("sd_vae_sha256") != vae_sha:
        raise ValueError(f"{folder} was trained on another toy SD autoencoder than {sd_folder}'s")
    # The student reads the teacher's velocities through this command's CLIP: a teacher trained on
    # another CLIP's embeddings would be asked about words it never saw encoded that way.
    text_sha = _sha256(Path(sd_folder) / "text_encoder" / "model.safetensors")
    if manifest.get("sd_text_encoder_sha256") != text_sha:
        raise ValueError(f"{folder} was trained on another toy SD text encoder than {sd_folder}'s (or before "
                         "the manifest recorded it)")
    return manifest


def _save_half(pipe, folder: Path) -> None:
    from freecure_edit.toyworld.train_generator import load_text_encoders_in_float32

    modules = (pipe.vae, pipe.transformer, pipe.text_encoder, pipe.text_encoder_2)
    for module in modules:
        module.half()
    try:
        pipe.save_pretrained(str(folder), safe_serialization=True)
    finally:
        for module in modules:
            module.float()
    load_text_encoders_in_float32(folder)


def _refusal(args, out: Path, staging: Path) -> tuple[str, int] | None:
    """(message, exit code) for arguments this command refuses before loading anything, or None."""
    if out.exists():
        return f"{out} exists; remove it first (the toy FLUX is never overwritten in place)", 2
    if staging.exists():
        # A stopped run's leftovers, or somebody's folder that happens to have the name: never deleted unasked.
        return f"{staging} exists (where this command writes before renaming); remove it first", 2
    if args.threads < 1:
        return "--threads must be at least 1", 2
    if args.steps is not None and args.steps < 1 and args.teacher is None:
        return "--steps must be at least 1 (the teacher's training steps)", 2
    if args.distill_steps is not None and args.distill_steps < 0:
        return "--distill-steps must be at least 0", 2
    interval_given = args.guidance_interval is not None or args.guidance_everywhere
    if interval_given and args.distill_steps == 0:
        return "--guidance-interval and --guidance-everywhere apply to the distillation, which --distill-steps 0 skips", 2
    if args.guidance_interval is not None and not 0 <= args.guidance_interval[0] < args.guidance_interval[1] <= 1:
        return "--guidance-interval needs 0 <= LOW < HIGH <= 1 (noise levels)", 2
    if args.teacher is not None and args.distill_steps == 0:
        return "--teacher with --distill-steps 0 would train nothing", 2
    if args.teacher is not None and (problem := teacher_files_problem(args.teacher)):
        return problem, 3
    if not (Path(args.sd) / "model_index.json").is_file():
        return f"{args.sd} is not a diffusers folder of the toy SD", 4
    return None


def main(argv=None) -> int:
    from freecure_edit.toyworld.assets import model_dir

    parser = argparse.ArgumentParser(prog="python -m freecure_edit.toyworld.train_flux",
                                     description="Train the toy world's FLUX variant (see the module docstring).")
    parser.add_argument("out_dir", help="folder to create: a diffusers FluxPipeline folder and manifest.json")
    parser.add_argument("--sd", type=Path, default=model_dir("sd"),
                        help="the toy SD folder whose autoencoder and CLIP it uses  [default: the committed one]")
    parser.add_argument("--quick", action="store_true", help="a handful of steps: proves the command runs")
    parser.add_argument("--steps", type=int, help=f"teacher training steps  [default: {FluxSettings.steps}]")
    parser.add_argument("--distill-steps", type=int,
                        help=f"guidance distillation steps (0: the teacher alone)  [default: {FluxSettings.distill_steps}]")
    interval = parser.add_mutually_exclusive_group()
    interval.add_argument("--guidance-interval", type=float, nargs=2, metavar=("LOW", "HIGH"),
                          help="the noise levels (sigma) at which the distillation learns the teacher's guided "
                               f"velocity  [default: {GUIDANCE_INTERVAL[0]:g} {GUIDANCE_INTERVAL[1]:g}]")
    interval.add_argument("--guidance-everywhere", action="store_true",
                          help="distil the guided velocity at every noise level (the toy FLUX before issue 27's "
                               "realism gate)")
    parser.add_argument("--teacher", type=Path,
                        help="a toy FLUX folder written by this command (with --distill-steps 0): distil from it "
                             "instead of training a teacher")
    # One thread: on the shared 2-core machine two threads spent most of their time waiting on each other
    # (about 10 s a step against 0.6 s with one).
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    staging = out.with_name(out.name + ".partial")
    refused = _refusal(args, out, staging)
    if refused is not None:
        message, code = refused
        print(f"error: {message}", file=sys.stderr)
        return code
    torch.set_num_threads(args.threads)
    command = "python -m freecure_edit.toyworld.train_flux " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        settings = QUICK if args.quick else FluxSettings()
        if args.steps is not None:
            settings = replace(settings, steps=args.steps)
        if args.distill_steps is not None:
            settings = replace(settings, distill_steps=args.distill_steps)
        if args.guidance_everywhere:
            settings = replace(settings, guidance_interval=None)
        elif args.guidance_interval is not None:
            settings = replace(settings, guidance_interval=tuple(args.guidance_interval))
        manifest = train_flux(staging, Path(args.sd), settings, command=command, teacher_folder=args.teacher)
    except ValueError as error:  # a teacher folder that does not fit
        shutil.rmtree(staging, ignore_errors=True)
        print(f"error: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        shutil.rmtree(staging, ignore_errors=True)
        print("interrupted", file=sys.stderr)
        return 130
    staging.rename(out)
    print(f"wrote {out} in {manifest['seconds']['total_wall']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
