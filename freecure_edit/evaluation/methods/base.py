"""What every method of an evaluation is: (photo, prompt, seed) -> the output image and its cost.

The photo is at the working size already, so every method edits the same pixels and every metric
compares images of one size. Cost is counted the same way for the cure and the peers: denoiser
evaluations (rows through the UNet, from a forward hook), seconds, and peak memory.
"""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import PIL.Image
import torch


@dataclass
class MethodOutput:
    """image: the output at the photo's size. mask: the method's own union mask (the cure's), else None.
    masks: per-attribute masks for the report's overlay. fd_image: the foundation image, when the
    method made one."""

    image: PIL.Image.Image
    evaluations: int = 0
    seconds: float = 0.0
    peak_memory_bytes: int | None = None
    mask: torch.Tensor | None = None
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    fd_image: PIL.Image.Image | None = None
    warnings: list[str] = field(default_factory=list)


class Method:
    """An adapter with one signature. `spec` is how the user named it ("cure:method=rofa"), the key of
    its results; `kind` is its family ("input", "fd", "cure", "ledits", "img2img")."""

    kind = ""

    def __init__(self, spec: str):
        self.spec = spec

    def run(self, photo: PIL.Image.Image, prompt: str, seed: int) -> MethodOutput:
        raise NotImplementedError


class UnetCounter:
    """Counts denoiser evaluations, one per latent row, with a forward pre-hook on the denoiser (a UNet,
    or FLUX's transformer), so that peers that go through diffusers' own pipelines are counted like the
    cure."""

    def __init__(self, denoiser):
        self.evaluations = 0
        self._handle = denoiser.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs):
        sample = args[0] if args else kwargs.get("sample", kwargs.get("hidden_states"))
        self.evaluations += int(sample.shape[0])

    def close(self) -> None:
        self._handle.remove()


@dataclass
class Measured:
    evaluations: int = 0
    seconds: float = 0.0
    peak_memory_bytes: int | None = None


@contextmanager
def measured(counter: UnetCounter | None, device):
    """Evaluations, wall seconds and peak memory of the block: the GPU's peak allocation on CUDA, the
    process's resident high-water mark elsewhere (which never goes down, so on the CPU it is an upper
    bound shared by all methods of the run)."""
    result = Measured()
    cuda = torch.device(device).type == "cuda" and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    before = counter.evaluations if counter is not None else 0
    started = time.perf_counter()
    try:
        yield result
    finally:
        if cuda:
            torch.cuda.synchronize()
        result.seconds = time.perf_counter() - started
        result.evaluations = (counter.evaluations if counter is not None else 0) - before
        if cuda:
            result.peak_memory_bytes = int(torch.cuda.max_memory_allocated())
        else:
            result.peak_memory_bytes = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


@contextmanager
def kept_attention_processors(denoiser):
    """Peers install attention processors of their own on the shared denoiser: put the cure's back after."""
    saved = dict(denoiser.attn_processors)
    try:
        yield
    finally:
        denoiser.set_attn_processor(saved)


def denoiser_of(pipe):
    """The pipeline's denoiser: FLUX's transformer, or the UNet."""
    return pipe.transformer if getattr(pipe, "transformer", None) is not None else pipe.unet


class SkippedMethod(Method):
    """A method that does not apply to the loaded model (LEDITS++ on FLUX): it runs nothing, and the
    runner records `reason` in the summary and the report instead of results."""

    def __init__(self, spec: str, kind: str, reason: str):
        super().__init__(spec)
        self.kind, self.reason = kind, reason


def generator_for(seed: int, device) -> torch.Generator:
    device = torch.device(device)
    return torch.Generator(device="cpu" if device.type == "mps" else device).manual_seed(int(seed))
