"""Every knob of a cure, with its default, in one place (the CLI builds its options from this)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING

from freecure_edit.errors import ConfigurationError

if TYPE_CHECKING:
    from freecure_edit.models.defaults import ModelDefaults

METHODS = ("fasa", "rofa")
REFINERS = ("none", "sam")
APG_MODES = ("branch", "reinvert")
INVERSIONS = ("exact", "ddim", "null-text", "negative-prompt")
# Where the foundation branch starts: the photo's inverted z_T (this tool's setting for a photo), or fresh
# Gaussian noise (the paper's own generation setting; its layout is not the photo's).
FD_NOISES = ("inverted", "fresh")
# Which parse draws an added or changed attribute's mask: the union of the photo's and the foundation
# image's (DESIGN.md section 2 step 5), the photo's alone, or the foundation image's alone (the authors').
MASK_SOURCES = ("both", "photo", "fd")
# What each branch keeps of the exact front end's corrections inside the attributes, when not set:
# chosen on the toy world (README, "Toy world"), where they raised round-glasses removal from 1/6 to
# 6/6 and red hair from 3/6 to 5/6 on the 30-minute UNet and changed little on the better-trained one.
# The schedulers of SD 1.x, SDXL and FLUX are trained on 1000 timesteps: DDIM takes no more steps than that.
MAX_STEPS = 1000
# A UNet pass holds tens of activation maps of 320 x (side / 8)^2 floats: about 0.34 GB each at 4096 px,
# 1.3 GB at 8192 px, 200 GB at 99999 px (where a cure was killed by the kernel at 22.7 GB, silently). The
# models are used at 512 (SD 1.5) to 1024 (SDXL, FLUX); 4096 leaves room for upscaled work.
MAX_WORKING_SIZE = 4096
MASK_CORRECTIONS = 0.5
FD_MASK_CORRECTIONS = 0.0


@dataclass(frozen=True)
class CureConfig:
    """Settings of one cure. `None` means "the model's default" where that depends on the model.

    method: "fasa" (the final paper's foundation-aware self-attention) or "rofa" (the first version's
      SAME masks and noise blending).
    steps, guidance: sampling steps, and the foundation branch's classifier-free guidance (FLUX: its
      distilled guidance embedding). None is the model's own setting (`ModelDefaults`): 50 steps and
      7.5 on SD 1.x and SDXL, 28 and 3.5 on FLUX.1-dev, 4 steps on FLUX.1-schnell (no guidance input);
      curing a photo on SD 1.x, the foundation branch then runs at 4 and the photo branch at 7.5
      (`ModelDefaults.photo_fd_guidance`; a guidance given sets both, as the authors run them).
    draft_steps: the most steps a model's default may give (the draft preset, and the CLI on the CPU);
      steps the user sets are taken as they are.
    true_cfg: FLUX only: true classifier-free guidance of the foundation branch against its negative
      prompt, the way a removal ("without glasses") is said, as FluxPipeline's `true_cfg_scale`. It
      costs one more evaluation per foundation step; 1 turns it off (the removal then does nothing).
      None is the model's (2.0 on FLUX); SD and SDXL use `guidance` for this and ignore it.
    pd_guidance: guidance of the photo branch; None follows `guidance` (the authors run both branches
      with CFG), except for a photo on SD 1.x with no guidance given, where it is the model's 7.5 beside
      the foundation branch's 4; 1.0 is cheaper (4N instead of 6N evaluations) but FASA is weaker per
      unit of omega.
    omega: FASA's logit boost of the foundation keys inside the mask; None is the authors' (0.5 on SD
      1.x, 1.5 on SDXL).
    strength: how much of the foundation branch the cure lets in, the one knob most users need: 0 is
      the photo bit for bit, 1 the method as published, and the change grows continuously in between.
      FASA mixes its attention output with plain attention by its square (`fasa_mix`; above 1, FD's
      key weights are multiplied by it instead), ROFA scales its blend weight by it, and APG's gamma scales with it.
    fasa_layers: self-attention processor names; None is the authors' layer set for the model.
    fasa_steps: the fraction of the sampling steps, (start, end), during which FASA is active.
    gamma: APG restarts from this fraction of the noise schedule (the paper's 0.5).
    apg: "branch" switches the photo branch to the full prompt for the last gamma of the FASA pass (no
      extra evaluations); "reinvert" DDIM-inverts the FASA result to gamma and denoises it with the full
      prompt, as in the paper (3 gamma N more evaluations).
    inversion: the front end: "exact" (default), "ddim", "null-text" or "negative-prompt".
    fd_corrections: give the foundation branch the photo branch's exact corrections, which keeps its
      layout on the photo's. Only the exact front end has corrections; with the others the foundation
      branch runs without them and the result says so in its warnings.
    mask_corrections: the share of the exact front end's per-step corrections that the photo branch keeps
      inside the attribute mask (outside it always keeps them all); None is 0.5 (`MASK_CORRECTIONS`).
      The corrections retrace the photo, including what the prompt asks to change: 1 retraces it there
      too; 0 lets the mask evolve as plain sampling under FASA and APG from the first step the cure acts
      on. The share given up scales with
      `strength` up to 1. Lower values help a model that reconstructs the photo mostly through
      its corrections let go of it, at a cost in identity (the toy world's table in the README).
    fd_mask_corrections: the same for the foundation branch (with `fd_corrections`), inside the photo's
      own region of the spatial attributes from its parse (the foundation image does not exist yet),
      grown by one latent cell; None is 0 (`FD_MASK_CORRECTIONS`). 1 keeps them all there; lower lets
      the foundation branch draw the asked hair or remove the glasses where the corrections would paint
      the photo's back. Scales with `strength` up to 1 as well. Masks from `on_masks` or SAM come after
      the foundation branch, so this region is always the parser's.
    fd_start: the share of the steps during which the foundation branch shares the photo's trajectory:
      for the first k = round(fd_start * steps) steps its latent is the inversion's own (latents[i], the
      photo's DDIM trajectory under every front end), where it still predicts with the full prompt so
      that FASA has its keys and values there; from step k on it steps on its own from latents[k],
      with its corrections (`fd_corrections`, `fd_mask_corrections`) as from z_T at 0. 0 is FD from z_T,
      the authors' cure. None (default): the model's `photo_fd_start` for a photo (0.2 on SD 1.x), else
      0. It costs the same evaluations. Needs fd_noise "inverted" (`cure/foundation.py`).
    fd_blend: the share of the photo branch's first steps at which, inside the cure mask, its latent is
      replaced by the foundation branch's latent at the same step (blended by the mask's value), before
      it predicts; from step round(fd_blend * steps) on it samples on its own, under FASA. 0 is the
      paper's cure, where only FASA's keys and values carry the foundation in. None (default): the
      model's `photo_fd_blend` for a photo from its inverted noise (1 on SD 1.x), else 0. The blend
      scales with `strength` up to 1. At 1 only the photo branch's last step inside the mask is its own:
      the cure is then the foundation pasted in at the latent level, the photo's trajectory outside.
      Why it exists: on the toy world, even a perfect foundation branch (the ideal edit's own inversion)
      with perfect masks left FASA alone as far from the ideal edit as before; FASA carries colours, not
      new shapes (benchmarks/toyworld_oracle.py). It costs no evaluation; FD's latents are kept, one per
      blended step.
    fd_noise: "inverted" (default) starts the foundation branch from the photo's inverted z_T; "fresh"
      from Gaussian noise drawn with `fd_seed`, as the paper generates, sampled without the exact front
      end's corrections (they belong to the photo's trajectory). Its face is then laid out on its own,
      not on the photo's, which FASA's premise needs: the result warns.
    fd_seed: the seed of that fresh noise (ignored with "inverted").
    mask_source: which parse draws an added or changed attribute's mask: "both" (default) the union of
      the photo's and the foundation image's, "photo" the photo's alone, "fd" the foundation image's
      alone. A removal's mask is always the photo's (the foundation image no longer has the thing).
      With method "rofa", SAME's product of the two parses keeps only the chosen parse's factor.
    mask_dilation_px, mask_feather_px: how the attribute masks grow and soften, in working pixels.
    paste_feather_px: the soft edge of the paste-back into the full-resolution photo, in photo pixels;
        None: a 64th of the pasted region's short side (8 px for a 512 px photo or face crop).
    attributes, template: overrides of what the prompt parser finds.
    fd_cache_device: where the foundation branch's keys and values wait ("cpu" saves GPU memory);
      None keeps them on the model's device, except for SDXL on a GPU, where they go to the CPU.
    working_size: the side the photo is cured at; None is the model's native size (512 SD 1.5, 1024 SDXL).
    rofa_start, rofa_weight: with method "rofa", the share of the sampling steps after which the photo
      branch's noise is blended toward the foundation's inside the SAME mask, and the blend's weight (the
      authors blend after step 5 of 50 at 0.75: 0.1 and 0.75).
    refine: "sam" tightens each attribute's mask with segment-anything (needs a SAM checkpoint), and
      gives words the parser has no label for (a scarf) a mask from the foundation's attention.
    detect: cure detected faces (crop, cure at the working size, paste back) when a face detector is
      loaded; False cures the whole image.
    faces: which detected faces: "largest", "all", or indices "0,2" (0 is the largest).
    face_margin: the crop around a face, in face sizes on each side (0.6: hair, earrings, most hats).
    min_identity: the lowest ArcFace similarity to the input face the user accepts; below it the cure
      is retried at `identity_retry_factor` times the strength, up to `identity_retries` times.
    """

    method: str = "fasa"
    steps: int | None = None
    guidance: float | None = None
    pd_guidance: float | None = None
    omega: float | None = None
    strength: float = 1.0
    fasa_layers: tuple[str, ...] | None = None
    fasa_steps: tuple[float, float] = (0.0, 1.0)
    gamma: float = 0.5
    apg: str = "branch"
    inversion: str = "exact"
    fd_corrections: bool = True
    mask_corrections: float | None = None
    fd_mask_corrections: float | None = None
    fd_start: float | None = None
    fd_blend: float | None = None
    fd_noise: str = "inverted"
    fd_seed: int = 0
    mask_source: str = "both"
    mask_dilation_px: int = 0
    mask_feather_px: float = 0.0
    paste_feather_px: float | None = None
    attributes: tuple[str, ...] | None = None
    template: str | None = None
    fd_cache_device: str | None = None
    working_size: int | None = None
    rofa_start: float = 0.1
    rofa_weight: float = 0.75
    refine: str = "none"
    detect: bool = True
    faces: str = "largest"
    face_margin: float = 0.6
    min_identity: float | None = None
    identity_retries: int = 2
    identity_retry_factor: float = 0.5
    draft_steps: int | None = None
    true_cfg: float | None = None

    def __post_init__(self) -> None:
        _check_choice("method", self.method, METHODS)
        _check_choice("apg", self.apg, APG_MODES)
        _check_choice("inversion", self.inversion, INVERSIONS)
        _check_choice("refine", self.refine, REFINERS)
        _check_choice("fd_noise", self.fd_noise, FD_NOISES)
        _check_choice("mask_source", self.mask_source, MASK_SOURCES)
        if (self.steps is not None and self.steps < 1) or (self.draft_steps is not None and self.draft_steps < 1):
            raise ConfigurationError("steps must be at least 1")
        if self.steps is not None and self.steps > MAX_STEPS:
            raise ConfigurationError(f"steps must be at most {MAX_STEPS}: the schedulers of SD, SDXL and FLUX are "
                                     f"trained on {MAX_STEPS} timesteps, and 50 (28 on FLUX.1-dev) is their own")
        if any(value is not None and value < 1.0 for value in (self.guidance, self.pd_guidance, self.true_cfg)):
            raise ConfigurationError("guidance must be at least 1")
        if self.strength < 0:
            raise ConfigurationError("strength must not be negative")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigurationError("gamma must be between 0 and 1")
        start, end = self.fasa_steps
        if not 0.0 <= start <= end <= 1.0:
            raise ConfigurationError("fasa_steps must be (start, end) with 0 <= start <= end <= 1")
        for name in ("mask_corrections", "fd_mask_corrections"):
            if getattr(self, name) is not None and not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigurationError(f"{name} must be between 0 and 1")
        if self.fd_start is not None and not 0.0 <= self.fd_start < 1.0:
            raise ConfigurationError("fd_start must be at least 0 and below 1 (a share of the steps)")
        if self.fd_blend is not None and not 0.0 <= self.fd_blend <= 1.0:
            raise ConfigurationError("fd_blend must be between 0 and 1 (a share of the steps)")
        if (self.fd_start or 0.0) > 0 and self.fd_noise == "fresh":
            raise ConfigurationError("fd_start shares the photo's trajectory and fd_noise 'fresh' leaves it: "
                                     "use one of them")
        if isinstance(self.fd_seed, bool) or not isinstance(self.fd_seed, int) or not 0 <= self.fd_seed < 2**63:
            raise ConfigurationError(f"fd_seed must be a whole number from 0 to 2**63 - 1, got {self.fd_seed!r}")
        if self.mask_dilation_px < 0 or self.mask_feather_px < 0 or (self.paste_feather_px or 0) < 0:
            raise ConfigurationError("mask dilation and feather must not be negative")
        if not 0.0 <= self.rofa_start <= 1.0 or not 0.0 <= self.rofa_weight <= 1.0:
            raise ConfigurationError("rofa_start and rofa_weight must be between 0 and 1")
        if self.identity_retries < 0 or not 0.0 < self.identity_retry_factor < 1.0:
            raise ConfigurationError("identity_retries must be >= 0 and identity_retry_factor in (0, 1)")
        if self.min_identity is not None and not -1.0 <= self.min_identity <= 1.0:
            raise ConfigurationError("min_identity is a cosine similarity, between -1 and 1")
        self.face_selection  # validates the syntax early
        if self.working_size is not None and self.working_size < 8:
            raise ConfigurationError("working_size must be at least 8 pixels")
        if self.working_size is not None and self.working_size > MAX_WORKING_SIZE:
            raise ConfigurationError(f"working_size must be at most {MAX_WORKING_SIZE} pixels: the models work at "
                                     "512 to 1024, and memory grows with the square of the size")

    @property
    def face_selection(self) -> str | list[int]:
        """`faces` as `select_faces` takes it."""
        text = self.faces.strip().lower()
        if text in ("largest", "all"):
            return text
        try:
            return [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise ConfigurationError(
                f"faces must be 'largest', 'all' or indices like '0,2', got {self.faces!r}"
            ) from None

    @property
    def fasa_mix(self) -> float:
        """FASA's attention-output mix for this strength: its square, capped at 1.

        A trained network amplifies a small share of FD's attention: on the toy world a linear mix gave
        0.36 / 0.59 / 0.74 / 1 of the full change at strength 0.1 / 0.25 / 0.5 / 1, the square gives
        0.03 / 0.24 / 0.59 / 1, close to a change in proportion to strength (README, "What the knobs do").
        """
        return min(self.strength, 1.0) ** 2

    @property
    def photo_guidance(self) -> float | None:
        return self.guidance if self.pd_guidance is None else self.pd_guidance

    @property
    def photo_corrections_kept(self) -> float:
        """`mask_corrections`, with None read as the default (the toy world's table in the README)."""
        return MASK_CORRECTIONS if self.mask_corrections is None else self.mask_corrections

    @property
    def foundation_corrections_kept(self) -> float:
        """`fd_mask_corrections`, with None read as the default."""
        return FD_MASK_CORRECTIONS if self.fd_mask_corrections is None else self.fd_mask_corrections

    def with_model_defaults(self, defaults: "ModelDefaults", photo: bool = True) -> "CureConfig":
        """This config with the settings left to the model (None) taken from `defaults`. For a photo
        (`photo`, and a foundation branch from its inverted noise) with no guidance given, the foundation
        branch takes the model's `photo_fd_guidance` where it has one, and the photo branch its `guidance`;
        a generation keeps the authors' single guidance."""
        steps = self.steps
        if steps is None:
            steps = defaults.steps if self.draft_steps is None else min(defaults.steps, self.draft_steps)
        guidance, pd_guidance = self.guidance, self.pd_guidance
        if guidance is None:
            guidance = defaults.guidance
            if photo and self.fd_noise == "inverted" and defaults.photo_fd_guidance is not None:
                guidance = defaults.photo_fd_guidance
                pd_guidance = defaults.guidance if pd_guidance is None else pd_guidance
        true_cfg = defaults.true_cfg if self.true_cfg is None else self.true_cfg
        # How the foundation is carried into a photo: the model's photo defaults only where the user
        # left both to it and FD starts from the photo's inverted noise (fd_start needs that noise).
        from_photo = photo and self.fd_noise == "inverted"
        fd_start = self.fd_start if self.fd_start is not None else defaults.photo_fd_start if from_photo else 0.0
        fd_blend = self.fd_blend if self.fd_blend is not None else defaults.photo_fd_blend if from_photo else 0.0
        return replace(self, steps=steps, guidance=guidance, pd_guidance=pd_guidance, true_cfg=true_cfg,
                       fd_start=fd_start, fd_blend=fd_blend)

    def from_model(self) -> list[str]:
        """The settings that `with_model_defaults` fills in."""
        return [name for name in MODEL_SETTINGS if getattr(self, name) is None]

    def with_changes(self, **changes) -> "CureConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {key: (list(value) if isinstance(value, tuple) else value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "CureConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigurationError(f"unknown cure settings: {', '.join(unknown)}")
        converted = {
            key: tuple(value) if isinstance(value, list) else value for key, value in values.items()
        }
        return cls(**converted)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigurationError(f"unknown {name} {value!r}; use one of {', '.join(choices)}")


DRAFT = {"steps": 20}

# The settings whose default depends on the model (None in a CureConfig until a model fills them in).
MODEL_SETTINGS = ("steps", "guidance", "true_cfg")


@dataclass
class CureStats:
    """Where an edit's time and denoiser evaluations went, phase by phase."""

    evaluations: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    backward_passes: int = 0
    peak_memory_bytes: int = 0
    fd_cache_bytes: int = 0

    @property
    def total_evaluations(self) -> int:
        return sum(self.evaluations.values())

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def to_dict(self) -> dict:
        return {
            "evaluations": dict(self.evaluations),
            "total_evaluations": self.total_evaluations,
            "seconds": {key: round(value, 4) for key, value in self.seconds.items()},
            "total_seconds": round(self.total_seconds, 4),
            "backward_passes": self.backward_passes,
            "peak_memory_bytes": self.peak_memory_bytes,
            "fd_cache_bytes": self.fd_cache_bytes,
        }
