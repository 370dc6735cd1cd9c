"""Train a toy IP-Adapter FaceID on the committed toy Stable Diffusion, as IP-Adapter FaceID was trained.

    python -m freecure_edit.toyworld.train_adapter OUT_DIR [--overwrite] [--quick] [--plus]

What is trained and on what (IP-Adapter's recipe, tencent-ailab/IP-Adapter, in miniature):
- frozen: the toy UNet, autoencoder and text encoder; trained: the image projection (32-d embedding ->
  4 context tokens), every cross-attention processor's to_k_ip / to_v_ip (started from the UNet's own
  to_k / to_v, as IP-Adapter's training script starts them) and the FaceID LoRA on every attention
  processor (up matrices at zero, so training starts from the base model exactly);
- face embedding: the toy identity judge's L2-normalised embedding of the training drawing (the stand-in
  for insightface's normed_embedding); target: the same drawing (its autoencoder latents);
- caption: `captions.sample_caption`, drawn anew at every step. IP-Adapter was trained on web captions,
  which leave out much of what an image shows; the partial captions leave out hair colour and style
  freely (present glasses, hats and expressions are always named), so the adapter is where the hair of
  an uncaptioned drawing has to come from if its embedding carries it. That is the mechanism by which
  real adapters copy the reference's attributes; full captions (`world.caption_for`) would leave it
  nothing to learn there. (The committed toy SD was trained on full captions only, so partial ones are
  a shift for the frozen base too; the LoRA may absorb part of it, which FD, the LoRA without an
  identity, shows);
- dropping, IP-Adapter's rates: per sample, 5% the embedding alone (zeros), 5% the text alone (""),
  5% both; the zero embedding with the LoRA on is then what "no identity" means to the adapter;
- the plain epsilon-prediction MSE of IP-Adapter (no min-SNR weighting), uniform timesteps over SD 1.5's
  1000-step schedule, AdamW with weight decay 0.01.

`--plus` trains a FaceID PlusV2-style adapter instead (IPAdapterFaceIDPlusImageProjection): the same
embedding plus image features of the same drawing, resampled by 4 perceiver blocks, with PlusV2's
shortcut (the embedding's own tokens added to the resampled ones). Real PlusV2 reads CLIP ViT-H's
penultimate hidden states of the face crop; the toy reads the attribute judge's last feature map (4 x 4
cells as 16 tokens): features that carry hair, glasses and expression, as CLIP's do.
Dropping the embedding drops the features too (the features of an all-zero image, as IP-Adapter's
training encodes a zeroed image).

Writes OUT_DIR/ip-adapter-faceid_toy.safetensors (or ip-adapter-faceid-plusv2_toy.safetensors; fp16,
the layout of `generation.faceid_layout`) and OUT_DIR/manifest.json (command, seeds, settings,
versions, seconds, sha256, the base model it was trained on, and a held-out loss check). Everything is
written to OUT_DIR.partial and renamed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

WEIGHT_NAME = "ip-adapter-faceid_toy.safetensors"
PLUS_WEIGHT_NAME = "ip-adapter-faceid-plusv2_toy.safetensors"
SEEDS = {"drawings": 0, "adapter_init": 11, "training": 12, "captions": 13, "check": 14}


@dataclass(frozen=True)
class Settings:
    drawings: int = 3000  # the base model's own training drawings (data.drawing_set from seed 0)
    steps: int = 2000
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.01
    lora_rank: int = 8
    mult: int = 2
    drop_embedding: float = 0.05
    drop_text: float = 0.05
    drop_both: float = 0.05
    check_drawings: int = 64  # held-out drawings of the loss check after training
    kind: str = "plain"  # or "plusv2"

    @property
    def weight_name(self) -> str:
        return PLUS_WEIGHT_NAME if self.kind == "plusv2" else WEIGHT_NAME


QUICK = Settings(drawings=24, steps=3, batch=4, check_drawings=4)
PLUS = Settings(kind="plusv2")
QUICK_PLUS = Settings(drawings=24, steps=3, batch=4, check_drawings=4, kind="plusv2")


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_base(folder=None):
    """The toy SD as a diffusers StableDiffusionPipeline on the CPU in fp32 (default: the committed one)."""
    from diffusers import StableDiffusionPipeline

    from freecure_edit.toyworld.assets import model_dir

    pipe = StableDiffusionPipeline.from_pretrained(str(folder or model_dir("sd")), safety_checker=None,
                                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def identity_embeddings(judges, images, batch: int = 256) -> torch.Tensor:
    """The identity judge's normalised embeddings of uint8 images (n, h, w, 3), as a float tensor."""
    parts = [judges.identity_embeddings(images[i:i + batch]) for i in range(0, len(images), batch)]
    return torch.from_numpy(np.concatenate(parts)).float()


@torch.no_grad()
def image_features(judges, images=None) -> torch.Tensor:
    """(n, 16, channels) image tokens of uint8 images (n, h, w, 3): the attribute judge's last feature
    map (4 x 4 cells at the judges' 64 px; 4 x the judge's width in channels), one token per cell. `images` None: the features of one all-zero judge input (the dropped image)."""
    from freecure_edit.toyworld.judges import JUDGE_SIZE, judge_pixels

    pixels = torch.zeros(1, 3, JUDGE_SIZE, JUDGE_SIZE) if images is None else judge_pixels(images)
    maps = torch.cat([judges.attribute_net.features(pixels[i:i + 256]) for i in range(0, len(pixels), 256)])
    return maps.flatten(2).transpose(1, 2).contiguous()


def use_image_features(pipe, features: torch.Tensor) -> None:
    """Hand a loaded Plus projection its image tokens (n, tokens, channels) for the next UNet calls, one
    row per UNet row (with guidance: the negatives' rows first), and switch PlusV2's shortcut on."""
    from freecure_edit.generation.faceid_layout import image_projection

    projection = image_projection(pipe)
    projection.clip_embeds = features[:, None]
    projection.shortcut = True


def drop_masks(count: int, generator: torch.Generator, settings: Settings) -> tuple[torch.Tensor, torch.Tensor]:
    """(drop the embedding, drop the text) per sample, from one uniform draw each as IP-Adapter does:
    [0, e) embedding alone, [e, e + t) text alone, [e + t, e + t + b) both."""
    draw = torch.rand(count, generator=generator)
    e, t, b = settings.drop_embedding, settings.drop_text, settings.drop_both
    embedding_only = draw < e
    text_only = (draw >= e) & (draw < e + t)
    both = (draw >= e + t) & (draw < e + t + b)
    return embedding_only | both, text_only | both


def attach_random_adapter(pipe, folder: Path, settings: Settings) -> Path:
    """Write a fresh FaceID file for `pipe.unet` (to_k_ip / to_v_ip copied from the UNet's to_k / to_v)
    and load it through diffusers' loader, so the modules trained are the ones diffusers builds."""
    from freecure_edit.generation import faceid_layout
    from freecure_edit.toyworld.judges import EMBEDDING_DIM

    unet = pipe.unet
    if settings.kind == "plusv2":
        from freecure_edit.toyworld.judges import load_judges

        channels = image_features(load_judges()).shape[-1]
        state = faceid_layout.faceid_plus_state_dict(unet, EMBEDDING_DIM, channels, lora_rank=settings.lora_rank,
                                                     seed=SEEDS["adapter_init"], zero_lora_up=True)
    elif settings.kind == "plain":
        state = faceid_layout.faceid_state_dict(unet, EMBEDDING_DIM, mult=settings.mult, lora_rank=settings.lora_rank,
                                                seed=SEEDS["adapter_init"], zero_lora_up=True)
    else:
        raise ValueError(f"unknown adapter kind {settings.kind!r}; use 'plain' or 'plusv2'")
    modules = dict(unet.named_modules())
    for name, key in faceid_layout.cross_attention_keys(faceid_layout.unet_processors(unet)).items():
        attention = modules[name.removesuffix(".processor")]
        state[f"ip_adapter.{key}.to_k_ip.weight"] = attention.to_k.weight.detach().clone()
        state[f"ip_adapter.{key}.to_v_ip.weight"] = attention.to_v.weight.detach().clone()
    path = faceid_layout.save_faceid(state, folder / "init" / settings.weight_name)
    faceid_layout.load_faceid_into(pipe, path)
    return path


def _tokens(tokenizer, texts) -> torch.Tensor:
    return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


def _noise_schedule():
    from diffusers import DDPMScheduler

    from freecure_edit.toyworld import architectures

    return DDPMScheduler(**{k: v for k, v in architectures.scheduler_config().items() if k != "set_alpha_to_one"})


@torch.no_grad()
def encode_latents(vae, pixels: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Scaled latent means, as the toy UNet was trained on."""
    means = [vae.encode(pixels[i:i + batch]).latent_dist.mean for i in range(0, len(pixels), batch)]
    return torch.cat(means) * vae.config.scaling_factor


def predict_noise(pipe, noisy, timesteps, tokens, embeddings):
    hidden = pipe.text_encoder(tokens).last_hidden_state
    return pipe.unet(noisy, timesteps, hidden, added_cond_kwargs={"image_embeds": [embeddings[:, None]]}).sample


def train(pipe, settings: Settings, log=_log) -> tuple[float, float]:
    """Train the adapter loaded in `pipe` in place; return the seconds taken and the mean loss of the
    last 50 steps."""
    from freecure_edit.generation.faceid_layout import trainable_parameters
    from freecure_edit.toyworld.captions import sample_caption
    from freecure_edit.toyworld.data import TRAIN_SEED_BASE, drawing_set
    from freecure_edit.toyworld.judges import load_judges
    from freecure_edit.toyworld.train_generator import _set_lr

    start = time.perf_counter()
    data = drawing_set(settings.drawings, TRAIN_SEED_BASE + SEEDS["drawings"])
    judges = load_judges()
    embeddings = identity_embeddings(judges, data.images)
    plus = settings.kind == "plusv2"
    if plus:
        features, dropped_features = image_features(judges, data.images), image_features(judges)
    latents = encode_latents(pipe.vae, data.pixels())
    log(f"{len(data)} drawings, embeddings and latents in {time.perf_counter() - start:.1f} s")

    for module in (pipe.unet, pipe.vae, pipe.text_encoder):
        module.requires_grad_(False)
    params = trainable_parameters(pipe)
    for param in params:
        param.requires_grad_(True)
    log(f"training {sum(p.numel() for p in params)} parameters in {len(params)} tensors")
    optimiser = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = _noise_schedule()
    empty = _tokens(pipe.tokenizer, [""])[0]
    generator = torch.Generator().manual_seed(SEEDS["training"])
    caption_rng = np.random.default_rng(SEEDS["captions"])
    pipe.unet.train()
    losses = []
    for step in range(settings.steps):
        index = torch.randint(len(data), (settings.batch,), generator=generator)
        tokens = _tokens(pipe.tokenizer, [sample_caption(data.specs[i], caption_rng) for i in index.tolist()])
        no_embedding, no_text = drop_masks(settings.batch, generator, settings)
        tokens[no_text] = empty
        embedding = embeddings[index] * (~no_embedding).float()[:, None]
        if plus:
            use_image_features(pipe, torch.where(no_embedding[:, None, None], dropped_features, features[index]))
        clean = latents[index]
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, schedule.config.num_train_timesteps, (settings.batch,), generator=generator)
        prediction = predict_noise(pipe, schedule.add_noise(clean, noise, timesteps), timesteps, tokens, embedding)
        loss = F.mse_loss(prediction, noise)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        _set_lr(optimiser, settings.lr, step, settings.steps)
        losses.append(loss.item())
        if step % 50 == 0 or step == settings.steps - 1:
            log(f"adapter step {step}/{settings.steps} loss {np.mean(losses[-50:]):.4f}")
    pipe.unet.eval()
    for param in params:
        param.requires_grad_(False)
    return time.perf_counter() - start, float(np.mean(losses[-50:]))


@torch.no_grad()
def loss_check(pipe, settings: Settings) -> dict:
    """Held-out noise-prediction loss (same noise and timesteps for each row) with each drawing's own
    embedding, with zeros, and with another identity's drawing's embedding: whether the adapter uses
    the identity at all. Drawings from the held-out seed range, their full captions."""
    from freecure_edit.toyworld.data import HELD_OUT_SEED_BASE, drawing_set
    from freecure_edit.toyworld.judges import load_judges

    data = drawing_set(settings.check_drawings, HELD_OUT_SEED_BASE + SEEDS["check"])
    judges = load_judges()
    embeddings = identity_embeddings(judges, data.images)
    plus = settings.kind == "plusv2"
    features = image_features(judges, data.images) if plus else None
    identities = np.array([s.identity for s in data.specs])
    # Each drawing's "wrong" embedding: the next drawing in the set with a different identity.
    other = np.array([next((j for j in list(range(i + 1, len(data))) + list(range(i)) if identities[j] != identities[i]), i)
                      for i in range(len(data))])
    latents = encode_latents(pipe.vae, data.pixels())
    tokens = _tokens(pipe.tokenizer, data.captions)
    schedule = _noise_schedule()
    generator = torch.Generator().manual_seed(SEEDS["check"])
    noise = torch.randn(latents.shape, generator=generator)
    timesteps = torch.randint(0, schedule.config.num_train_timesteps, (len(data),), generator=generator)
    noisy = schedule.add_noise(latents, noise, timesteps)
    result = {}
    other = torch.from_numpy(other)
    for label, rows in (("own", torch.arange(len(data))), ("zeros", None), ("other_identity", other)):
        embedding = torch.zeros_like(embeddings) if rows is None else embeddings[rows]
        if plus:
            use_image_features(pipe, image_features(judges).expand(len(data), -1, -1) if rows is None else features[rows])
        result[label] = float(F.mse_loss(predict_noise(pipe, noisy, timesteps, tokens, embedding), noise))
    return result


def train_adapter(out: Path, settings: Settings, command: str = "") -> dict:
    """Train into `out` (created) and return the manifest written there."""
    from freecure_edit.generation.faceid_layout import exported_faceid_state_dict, save_faceid
    from freecure_edit.toyworld.assets import model_dir
    from freecure_edit.toyworld.train import _versions

    torch.set_num_threads(1)
    began = time.perf_counter()
    out.mkdir(parents=True)
    torch.manual_seed(SEEDS["training"])
    pipe = load_base()
    attach_random_adapter(pipe, out / ".work", settings)
    seconds = {}
    seconds["train"], last_loss = train(pipe, settings)
    start = time.perf_counter()
    check = loss_check(pipe, settings)
    seconds["loss_check"] = time.perf_counter() - start
    _log(f"held-out loss: {check}")
    weights = save_faceid(exported_faceid_state_dict(pipe), out / settings.weight_name, dtype=torch.float16)
    shutil.rmtree(out / ".work")
    seconds["total_wall"] = time.perf_counter() - began
    base = model_dir("sd")
    manifest = {
        "command": command,
        "settings": asdict(settings),
        "seeds": SEEDS,
        "threads": 1,
        "versions": _versions(),
        "base_model": {"folder": "freecure_edit/toyworld/weights/sd",
                       "unet_sha256": _sha256(base / "unet" / "diffusion_pytorch_model.safetensors")},
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "last_50_steps_loss": round(last_loss, 5),
        "held_out_loss": {k: round(v, 5) for k, v in check.items()},
        "files": {settings.weight_name: _sha256(weights)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m freecure_edit.toyworld.train_adapter",
                                     description="Train the toy IP-Adapter FaceID on the committed toy SD.")
    parser.add_argument("out_dir", help=f"folder to create with {WEIGHT_NAME} (or {PLUS_WEIGHT_NAME}) and manifest.json")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT_DIR if it exists")
    parser.add_argument("--quick", action="store_true", help="a few steps on a few drawings: proves the command runs")
    parser.add_argument("--plus", action="store_true", help="a FaceID PlusV2-style adapter fed image features too")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    if out.exists() and not args.overwrite:
        print(f"error: {out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 2
    staging = out.with_name(out.name + ".partial")
    if staging.exists():
        shutil.rmtree(staging)
    command = "python -m freecure_edit.toyworld.train_adapter " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        settings = (QUICK_PLUS if args.quick else PLUS) if args.plus else (QUICK if args.quick else Settings())
        train_adapter(staging, settings, command=command)
    except KeyboardInterrupt:
        shutil.rmtree(staging, ignore_errors=True)
        print("interrupted", file=sys.stderr)
        return 130
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    _log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
