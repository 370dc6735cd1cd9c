"""Train the toy Stable Diffusion: the autoencoder on crops of drawings, then the UNet and the text
encoder together on the autoencoder's latents with the DDPM noise-prediction loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from freecure_edit.toyworld import architectures
from freecure_edit.toyworld.data import DrawingSet

CFG_DROPOUT = 0.1
VAE_CROP = 32
KL_WEIGHT = 1e-6
# Min-SNR loss weighting (Hang et al. 2023): high-SNR timesteps only polish texture, while glasses, hats and
# mouths are decided at mid and high noise; capping their weight spends the short CPU budget there.
MIN_SNR_GAMMA = 5.0
# The saved UNet and text encoder are an exponential moving average of the trained ones, which smooths the
# last steps' jumps. With min-SNR weighting and twice the steps this raised the generator gate from 0.593
# to 0.871; the three changes were made together, their shares were not measured apart.
EMA_DECAY = 0.999
# Labels of the small parts that decide glasses, expression and hat. The plain loss weighs every latent
# position alike, so a pair of glasses (about 3% of a drawing) moves it little and is learnt last; extra
# weight around these parts (one latent cell of margin) spends more of the budget there.
DETAIL_LABELS = ("eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip", "hat")


def edge_loss(decoded: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 distance of the horizontal and vertical pixel differences. L1 + MSE on pixels alone lets a small
    autoencoder round off the one-pixel rims of glasses and the eyes' dots (24.2 dB round trip, edge
    energy 0.94 of the drawings'); this term pays for every edge it softens."""
    loss = 0.0
    for dim in (-1, -2):
        loss = loss + (decoded.diff(dim=dim) - target.diff(dim=dim)).abs().mean()
    return loss


def train_vae(data: DrawingSet, steps: int, seed: int, batch: int = 16, lr: float = 2e-3, log=print,
              edge_weight: float = 0.0, width: tuple[int, ...] | None = None):
    """An AutoencoderKL fitted to the drawings (L1 + MSE on random crops, a tiny KL term; plus
    `edge_weight` times `edge_loss`). `width`: its block_out_channels (default: architectures')."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    vae = AutoencoderKL(**architectures.vae_config(width))
    optimiser = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    pixels = data.pixels()
    generator = torch.Generator().manual_seed(seed)
    size = pixels.shape[-1]
    for step in range(steps):
        index = torch.randint(len(pixels), (batch,), generator=generator)
        y, x = (int(v) for v in torch.randint(0, size - VAE_CROP + 1, (2,), generator=generator) // 4 * 4)
        crop = pixels[index, :, y:y + VAE_CROP, x:x + VAE_CROP]
        posterior = vae.encode(crop).latent_dist
        # Decode the mean: sampled latents slow training down a lot at this size, and the KL term is tiny.
        decoded = vae.decode(posterior.mean).sample
        loss = (decoded - crop).abs().mean() + F.mse_loss(decoded, crop) + KL_WEIGHT * posterior.kl().mean()
        if edge_weight:
            loss = loss + edge_weight * edge_loss(decoded, crop)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        _set_lr(optimiser, lr, step, steps)
        if step % 50 == 0 or step == steps - 1:
            log(f"vae step {step}/{steps} loss {loss.item():.4f}")
    vae.eval()
    latents = encode(vae, pixels)
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    return vae, latents


@torch.no_grad()
def encode(vae, pixels: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Unscaled latent means of `pixels`."""
    return torch.cat([vae.encode(pixels[i:i + batch]).latent_dist.mean for i in range(0, len(pixels), batch)])


@torch.no_grad()
def decode(vae, latents: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Pixels of unscaled latents."""
    return torch.cat([vae.decode(latents[i:i + batch]).sample.clamp(-1, 1) for i in range(0, len(latents), batch)])


def _set_lr(optimiser, peak: float, step: int, steps: int, warmup: int = 20):
    # Linear warm-up, then cosine decay to a tenth of the peak.
    import math

    if step < warmup:
        value = peak * (step + 1) / warmup
    else:
        progress = (step - warmup) / max(1, steps - warmup)
        value = peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
    for group in optimiser.param_groups:
        group["lr"] = value


def pretrain_text_encoder(text_encoder, caption_ids: torch.Tensor, data: DrawingSet, steps: int, seed: int,
                          batch: int = 128, lr: float = 3e-3, log=print):
    """Teach the byte-level text encoder the attribute words first: linear heads on its pooled output
    predict each attribute family from the caption. Seconds of work that save the UNet many steps of
    learning to read."""
    from freecure_edit.toyworld.world import FAMILIES

    targets = data.targets()
    heads = torch.nn.ModuleDict({f: torch.nn.Linear(text_encoder.config.hidden_size, len(v)) for f, v in FAMILIES.items()})
    optimiser = torch.optim.AdamW(list(text_encoder.parameters()) + list(heads.parameters()), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        index = torch.randint(len(caption_ids), (batch,), generator=generator)
        pooled = text_encoder(caption_ids[index]).pooler_output
        loss = sum(F.cross_entropy(heads[f](pooled), targets[f][index]) for f in FAMILIES)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step % 50 == 0 or step == steps - 1:
            log(f"text encoder step {step}/{steps} loss {loss.item():.4f}")


def detail_weights(labels, latent_size: int, weight: float, names=DETAIL_LABELS) -> torch.Tensor:
    """(n, 1, latent_size, latent_size) loss weights: 1, plus `weight` within one latent cell of a
    pixel labelled one of `names` in each drawing's label map."""
    from freecure_edit.toyworld.world import LABEL

    ids = torch.tensor([LABEL[name] for name in names])
    detail = torch.isin(torch.as_tensor(labels).long(), ids).float()[:, None]
    cells = F.max_pool2d(F.adaptive_max_pool2d(detail, latent_size), 3, stride=1, padding=1)
    return 1 + weight * cells


def head_footprints(specs, seed_base: int, size: int = 64) -> np.ndarray:
    """(n, size, size) bool: where drawing k (drawn as `draw(specs[k], seed_base + k)`, as `data.drawing_set`
    draws) would have a hat or hair of either style, whatever it has.

    The hat-label detail weight (DETAIL_LABELS) falls only where a hat IS drawn, so wherever the caption
    does not settle the hat the weighted least-squares answer leans toward one (unasked hats 0.61 in run 1,
    0.71 on the committed weights); without it (run 2) the hat words were barely learnt: flipping them
    changed the UNet's x0 loss by 0.001-0.01 at t 500-960, against 0.05 for the glasses words, which have
    detail weight, while the hat's mean latent shift (0.0175 of the x0 variance) is as large as
    sunglasses' (0.0165). Redrawn with the hat on and with each hair style, the footprint depends on the
    drawing's geometry only (the world draws the hat last and the jitter first), so weighting it spends
    more of the budget on the hat and hair decisions without favouring either answer."""
    from freecure_edit.toyworld.world import LABEL, draw

    out = np.zeros((len(specs), size, size), dtype=bool)
    for k, spec in enumerate(specs):
        seed = seed_base + k
        out[k] = draw(spec.with_changes(hat="hat"), seed, size).labels == LABEL["hat"]
        for style in ("straight", "curly"):
            out[k] |= draw(spec.with_changes(hat="none", hair_style=style), seed, size).labels == LABEL["hair"]
    return out


def cell_weights(mask: np.ndarray, latent_size: int, weight: float) -> torch.Tensor:
    """(n, 1, latent_size, latent_size): `weight` within one latent cell of a True pixel of `mask`, else 0."""
    cells = F.adaptive_max_pool2d(torch.as_tensor(mask).float()[:, None], latent_size)
    return weight * F.max_pool2d(cells, 3, stride=1, padding=1)


def batch_tokens(caption_ids, template_ids, empty_ids, index, generator, template_generator,
                 template_share: float) -> torch.Tensor:
    """Token ids of one training batch: each drawing's caption, cut to its template with probability
    `template_share` (drawn from `template_generator` only then), and empty with probability CFG_DROPOUT."""
    tokens = caption_ids[index].clone()
    if template_share:
        cut = torch.rand(len(index), generator=template_generator) < template_share
        tokens[cut] = template_ids[index][cut]
    dropped = torch.rand(len(index), generator=generator) < CFG_DROPOUT
    tokens[dropped] = empty_ids
    return tokens


def fresh_caption_tokens(specs, index, ids, empty_ids, generator, caption_rng, rules) -> torch.Tensor:
    """Token ids of one training batch with captions drawn anew for this step (`captions.sample_caption`
    by `rules`, from `caption_rng`), empty with probability CFG_DROPOUT (from `generator`, as in
    `batch_tokens`). A fixed caption per drawing would teach each drawing one wording; a new draw at each
    step shows every drawing under many partial captions."""
    from freecure_edit.toyworld.captions import sample_caption

    tokens = ids([sample_caption(specs[i], caption_rng, rules) for i in index.tolist()])
    dropped = torch.rand(len(index), generator=generator) < CFG_DROPOUT
    tokens[dropped] = empty_ids
    return tokens


def train_unet(vae, data: DrawingSet, steps: int, seed: int, batch: int = 32, lr: float = 1e-3, log=print,
               latents: torch.Tensor | None = None, text_steps: int = 200, every_25_steps=None,
               detail_weight: float = 0.0, template_share: float = 0.0, checkpoints=(), on_checkpoint=None,
               caption_rules=None, detail_labels=DETAIL_LABELS, start_from=None,
               footprint_weight: float = 0.0, footprint_seed_base: int | None = None):
    """A UNet2DConditionModel and a CLIPTextModel trained together (the text encoder first taught the
    attribute words alone); captions are dropped to "" 10% of the time so classifier-free guidance works.
    `latents`: the drawings' unscaled latent means, when already computed. `every_25_steps()` is called
    during training (the caller hands over more threads there once its other process is done).
    `detail_weight`: extra loss weight around eyes, glasses, mouth and hat (`detail_weights`);
    `template_share`: the share of captions cut to their template ("a photo of a man", the foundation
    prompt of a removal, which no full caption is); measured at 5% it made "without glasses" worse, since
    the in-distribution template redraws the photo's glasses (README, toy world). `caption_rules`: a
    `captions.CaptionRules` to draw partial captions at every step (`fresh_caption_tokens`; it replaces
    `template_share`), None for each drawing's full caption. `on_checkpoint(step, unet,
    text_encoder)` receives copies holding the averaged weights after each step number in `checkpoints`.
    `start_from`: a (unet, text_encoder) pair to go on training instead of fresh ones (the text encoder's
    pretraining is then skipped unless `text_steps` asks for it). `footprint_weight`: extra loss weight on
    each drawing's `head_footprints` (hat or hair, whether drawn or not); `footprint_seed_base`: the seed
    `data` was drawn from (`drawing_set(count, seed)`), needed to redraw them."""
    from diffusers import DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel

    from freecure_edit.testing import tiny_clip_tokenizer
    from freecure_edit.toyworld.world import prompt_for

    torch.manual_seed(seed)
    if start_from is not None:
        unet, text_encoder = start_from
    else:
        unet = UNet2DConditionModel(**architectures.unet_config())
        text_encoder = CLIPTextModel(architectures.text_config())
    tokenizer = tiny_clip_tokenizer()
    noise_schedule = DDPMScheduler(**{k: v for k, v in architectures.scheduler_config().items()
                                      if k not in ("set_alpha_to_one",)})
    if latents is None:
        latents = encode(vae, data.pixels())
    latents = latents * vae.config.scaling_factor

    def ids(texts):
        return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                         return_tensors="pt").input_ids

    caption_ids = ids(data.captions)
    empty_ids = ids([""])[0]
    if text_steps:
        pretrain_text_encoder(text_encoder, caption_ids, data, text_steps, seed, log=log)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    optimiser = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    average = [p.detach().clone() for p in params]
    alphas = noise_schedule.alphas_cumprod
    snr = alphas / (1 - alphas)
    loss_weight = snr.clamp(max=MIN_SNR_GAMMA) / snr
    generator = torch.Generator().manual_seed(seed)
    template_ids = ids([prompt_for(spec, []) for spec in data.specs]) if template_share else None
    # Its own stream, so that without template captions the draws (and the weights) stay as they were.
    template_generator = torch.Generator().manual_seed(seed + 1)
    caption_rng = np.random.default_rng([seed, 27])  # its own stream too
    position_weight = detail_weights(data.labels, latents.shape[-1], detail_weight, detail_labels) if detail_weight else None
    if footprint_weight:
        if footprint_seed_base is None:
            raise ValueError("footprint_weight needs footprint_seed_base, the seed the drawings were drawn from")
        footprint = cell_weights(head_footprints(data.specs, footprint_seed_base, data.images.shape[1]),
                                 latents.shape[-1], footprint_weight)
        position_weight = footprint + (1 if position_weight is None else position_weight)
    unet.train()
    text_encoder.train()
    for step in range(steps):
        index = torch.randint(len(latents), (batch,), generator=generator)
        if caption_rules is not None:
            tokens = fresh_caption_tokens(data.specs, index, ids, empty_ids, generator, caption_rng, caption_rules)
        else:
            tokens = batch_tokens(caption_ids, template_ids, empty_ids, index, generator, template_generator,
                                  template_share)
        clean = latents[index]
        noise = torch.randn(clean.shape, generator=generator)
        timesteps = torch.randint(0, noise_schedule.config.num_train_timesteps, (batch,), generator=generator)
        noisy = noise_schedule.add_noise(clean, noise, timesteps)
        hidden = text_encoder(tokens).last_hidden_state
        prediction = unet(noisy, timesteps, hidden).sample
        error = F.mse_loss(prediction, noise, reduction="none")
        if position_weight is not None:
            error = error * position_weight[index]
        per_sample = error.mean(dim=(1, 2, 3))
        loss = (per_sample * loss_weight[timesteps]).mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        _set_lr(optimiser, lr, step, steps)
        _update_average(average, params, min(EMA_DECAY, (1 + step) / (10 + step)))
        if on_checkpoint is not None and step + 1 in checkpoints:
            on_checkpoint(step + 1, *_averaged_copies(unet, text_encoder, average))
        if step % 25 == 0 or step == steps - 1:
            log(f"unet step {step}/{steps} loss {loss.item():.4f}")
            if every_25_steps is not None:
                every_25_steps()
    with torch.no_grad():
        for target, value in zip(params, average):
            target.copy_(value)
    return unet.eval(), text_encoder.eval(), tokenizer


@torch.no_grad()
def _averaged_copies(unet, text_encoder, average):
    import copy

    unet_copy, text_copy = copy.deepcopy(unet).eval(), copy.deepcopy(text_encoder).eval()
    for target, value in zip(list(unet_copy.parameters()) + list(text_copy.parameters()), average):
        target.copy_(value)
    return unet_copy, text_copy


@torch.no_grad()
def _update_average(average, params, decay: float) -> None:
    for kept, current in zip(average, params):
        kept.mul_(decay).add_(current.detach(), alpha=1 - decay)


def build_pipeline(vae, unet, text_encoder, tokenizer):
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(**architectures.scheduler_config()),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_pipeline(pipe, folder, half: bool = True):
    """Save as a diffusers folder; weights in fp16 (they load back as fp32 unless asked otherwise)."""
    if half:
        for module in (pipe.vae, pipe.unet, pipe.text_encoder):
            module.half()
    try:
        pipe.save_pretrained(str(folder), safe_serialization=True)
    finally:
        for module in (pipe.vae, pipe.unet, pipe.text_encoder):
            module.float()
    load_text_encoders_in_float32(folder)


def load_text_encoders_in_float32(folder) -> None:
    """Make the saved text encoders load in fp32, as diffusers loads the UNet and autoencoder.

    transformers 5 loads a model in the dtype its config names, which save_pretrained sets to the
    weights' fp16: plain `DiffusionPipeline.from_pretrained(folder)` then pairs an fp16 text encoder with
    an fp32 UNet and fails on its first call. The config says fp32; the fp16 weights are upcast on load."""
    for config_file in sorted(Path(folder).glob("text_encoder*/config.json")):
        config = json.loads(config_file.read_text())
        for key in ("dtype", "torch_dtype"):
            if config.get(key) == "float16":
                config[key] = "float32"
        config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
