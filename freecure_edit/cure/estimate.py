"""How long a cure will take: the denoiser evaluations it needs, times one measured evaluation.

The cost model, for N steps, with rows(g) = 2 under classifier-free guidance g != 1 and 1 at g = 1,
g_pd the photo branch's guidance and g_fd the foundation branch's:
- inversion: exact (N + 1) rows(g_pd); ddim N rows(g_pd); negative-prompt N; null-text N + N (2 + k),
  k <= 10 optimisation iterations per step, each also a backward pass;
- foundation: N rows(g_fd); on FLUX one row, or two with a removal under true_cfg > 1; the same with
  fd_start (it predicts at the steps it shares the photo's trajectory too), fresh noise and any mask_source;
- fasa (or rofa, the same pass with another name): N rows(g_pd); on FLUX, APG's branched steps of a
  removal under true_cfg > 1 are two rows;
- apg, only with --apg reinvert and an abstract attribute in the prompt: A + A rows(g_fd), where
  A = round(min(1, gamma * strength) N) (a guidance-1 DDIM re-inversion, then A guided steps).
Each detected face is cured on its own, so all of it is paid once per face. With --min-identity, each
retry pays it again (`retries` says how many may follow). A prompt with no attribute runs nothing. The
autoencoder, the face parser and the face detector are not counted: next to the denoiser they are small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from freecure_edit.cure.config import CureConfig
from freecure_edit.cure.pass_plan import photo_pass_plan
from freecure_edit.prompts import ParsedPrompt

# A backward pass through the UNet costs about two forward passes.
BACKWARD_COST_IN_EVALUATIONS = 2


@dataclass(frozen=True)
class Estimate:
    evaluations: dict[str, int]
    backward_passes: int = 0
    upper_bound: bool = False  # null-text's early stop usually ends its optimisation sooner
    seconds_per_evaluation: float | None = None
    retries: int = 0  # identity retries that may each cost as much again

    @property
    def total_evaluations(self) -> int:
        return sum(self.evaluations.values())

    @property
    def seconds(self) -> float | None:
        if self.seconds_per_evaluation is None:
            return None
        work = self.total_evaluations + BACKWARD_COST_IN_EVALUATIONS * self.backward_passes
        return work * self.seconds_per_evaluation

    def to_dict(self) -> dict:
        seconds = self.seconds
        return {
            "evaluations": dict(self.evaluations),
            "total_evaluations": self.total_evaluations,
            "backward_passes": self.backward_passes,
            "upper_bound": self.upper_bound,
            "seconds_per_evaluation": self.seconds_per_evaluation,
            "seconds": None if seconds is None else round(seconds, 3),
            "possible_retries": self.retries,
        }


def _rows(guidance: float) -> int:
    return 1 if guidance == 1.0 else 2


def apg_steps(config: CureConfig, parsed: ParsedPrompt) -> int:
    """The steps APG re-runs, as the pipeline counts them (0 without an abstract attribute)."""
    if not parsed.abstract:
        return 0
    return int(round(min(1.0, config.gamma * config.strength) * config.steps))


def null_text_iterations() -> int:
    from freecure_edit.inversion.null_text import NullTextSettings

    return NullTextSettings().inner_steps


def expected_evaluations(config: CureConfig, parsed: ParsedPrompt, faces: int = 1,
                         guidance_rows: bool = True) -> Estimate:
    """The denoiser evaluations per phase that one attempt of `FreeCure.cure` will spend on `parsed`
    with `config` (resolved by `FreeCure.resolve_config`, as the cure resolves it), curing `faces` faces
    (1 for the whole image). `guidance_rows` is False for a
    guidance-distilled model (FLUX), whose predictions are one row at any guidance."""
    if not parsed.attributes:
        return Estimate({})
    n = config.steps
    photo, foundation = (_rows(config.photo_guidance), _rows(config.guidance)) if guidance_rows else (1, 1)
    true_cfg = not guidance_rows and bool(parsed.removals) and (config.true_cfg or 1.0) > 1.0
    if true_cfg:
        foundation = 2  # true CFG against the removal's negative prompt
    backward_passes = 0
    if config.inversion == "exact":
        inversion = (n + 1) * photo
    elif config.inversion == "ddim":
        inversion = n  # DDIM inverts at guidance 1
    elif config.inversion == "negative-prompt":
        inversion = n
    else:
        iterations = null_text_iterations()
        inversion = n + n * (2 + iterations)
        backward_passes = n * iterations
    plan = photo_pass_plan(config, parsed, exact=config.inversion == "exact")
    evaluations = {"inversion": inversion, "foundation": n * foundation}
    if plan.first < n:  # the steps before the first that acts come from the inversion, unevaluated
        evaluations[config.method] = (n - plan.first) * photo
        if true_cfg and config.apg == "branch":
            evaluations[config.method] += n - plan.branch_from  # APG's branch guides against it too
    reinverted = apg_steps(config, parsed) if config.apg == "reinvert" else 0
    if reinverted:
        evaluations["apg"] = reinverted + reinverted * foundation
    retries = config.identity_retries if config.min_identity is not None else 0
    return Estimate({phase: count * faces for phase, count in evaluations.items()}, backward_passes * faces,
                    upper_bound=config.inversion == "null-text", retries=retries)


def measure_evaluation_seconds(backbone, working_size: tuple[int, int], template: str, guidance: float,
                               prepare=None) -> float:
    """Seconds per denoiser evaluation at the working size, in the guided batch most of a cure runs in.

    The first call pays for one-off set-up (allocations, kernel selection), so a second one is timed.
    `prepare(pair)`: what every row must also carry (with an IP-Adapter FaceID loaded, an identity
    embedding: generation.estimate.zero_identity).
    """
    import torch

    from freecure_edit.backbones.base import guided_rows

    width, height = working_size
    scale = backbone.vae_scale_factor
    pair = backbone.encode_prompt(template, image_size=working_size)
    if prepare is not None:
        pair = prepare(pair)
    rows = guided_rows(pair, guidance) if backbone.uses_guidance else backbone.with_guidance(pair.cond, guidance)
    latents = torch.zeros(rows.rows, backbone.vae.config.latent_channels, height // scale, width // scale)
    timestep = backbone.pipe.scheduler.config.num_train_timesteps // 2
    with torch.no_grad():
        backbone.denoise(latents, timestep, rows)
        _synchronize(backbone.device)
        started = time.perf_counter()
        backbone.denoise(latents, timestep, rows)
        _synchronize(backbone.device)
    return (time.perf_counter() - started) / rows.rows


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def format_duration(seconds: float) -> str:
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def estimate_line(estimate: Estimate, device_type: str) -> str:
    seconds = estimate.seconds
    bound = "up to" if estimate.upper_bound else "about"
    evaluations = f"{estimate.total_evaluations} denoiser evaluations"
    if seconds is None:
        return f"the cure needs {bound} {evaluations}"
    each = format_duration(estimate.seconds_per_evaluation)
    line = f"estimated time {bound} {format_duration(seconds)} on the {device_type.upper()}: {evaluations} x {each}"
    if estimate.retries:
        line += f"; each of up to {estimate.retries} identity retries takes as long again"
    return line
