"""Each model family's own sampling settings, used where the user gives none (`--steps`, `--guidance`,
`--true-cfg` left out). The method's CureConfig reads them; a loaded model names its own through
`backbone.model_defaults`, a model on disk through `models.family.model_defaults_for`."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelDefaults:
    """A model family's own sampling settings, used where the user gave none.

    name: what the settings belong to, for messages. guidance_used: False for a model with no guidance
    input at all (FLUX.1-schnell), where `guidance` is a placeholder. true_cfg: None where the model
    guides with classifier-free guidance anyway (SD, SDXL). photo_fd_guidance: the foundation branch's
    guidance when it starts from a photo's inverted noise and the user sets no guidance (the photo
    branch keeps `guidance`); None: `guidance` for both, the authors' setting. photo_fd_start and
    photo_fd_blend: CureConfig's fd_start and fd_blend for a photo when the user gives none (0 and 0:
    the authors' cure)."""

    name: str
    steps: int
    guidance: float
    guidance_used: bool = True
    true_cfg: float | None = None
    photo_fd_guidance: float | None = None
    photo_fd_start: float = 0.0
    photo_fd_blend: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


# From a photo's inverted noise the foundation branch over-saturates at 7.5 (cyan goggles for "round
# glasses", white faces): on the toy SD 1.x, at 4 beside a photo branch at 7.5 the cure came nearer the
# ideal edit and kept more identity at three seeds of 24 edits each (README, "Toy world: the cure on the
# sharper generator"). SDXL and FLUX were not measured, so they keep the authors' single guidance.
# FASA carries colours into the photo's layout but not new shapes, even from a perfect foundation branch;
# the foundation's latent put in inside the mask at every step (fd_blend 1), from a foundation that shares
# the photo's trajectory for its first fifth (fd_start 0.2), came nearer the ideal edit with more
# attributes and identity at three seeds (README, "Toy world: which step loses the ideal edit").
STABLE_DIFFUSION_DEFAULTS = ModelDefaults("Stable Diffusion 1.x", steps=50, guidance=7.5, photo_fd_guidance=4.0,
                                          photo_fd_start=0.2, photo_fd_blend=1.0)
SDXL_DEFAULTS = ModelDefaults("SDXL", steps=50, guidance=7.5)
# diffusers' FluxPipeline settings for the two models: dev 28 steps at guidance 3.5; schnell, timestep
# distilled, 4 steps and no guidance input (FluxPipeline's docs pass guidance_scale=0, which it ignores).
# true_cfg 2.0 for removals is a choice, not a measurement: strong enough to steer, where larger scales
# on a guidance-distilled model tend to over-saturate.
FLUX_DEV_DEFAULTS = ModelDefaults("FLUX.1-dev", steps=28, guidance=3.5, true_cfg=2.0)
FLUX_SCHNELL_DEFAULTS = ModelDefaults("FLUX.1-schnell", steps=4, guidance=1.0, guidance_used=False, true_cfg=2.0)
