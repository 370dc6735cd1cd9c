"""The controller on tiny SD 1.5 and SDXL UNets: what each policy changes, and what it must leave alone.

Comparisons of two different computations run on the "smooth" UNets with a stated tolerance, because on
random weights float error is amplified; equalities that hold bit for bit are checked as such.
"""

from __future__ import annotations

import pytest
import torch

from freecure_edit.attention import AttentionController, default_fasa_layers
from freecure_edit.errors import ConfigurationError
from freecure_edit.testing import tiny_sd_pipeline, tiny_sdxl_pipeline

BUILDERS = {"sd": tiny_sd_pipeline, "sdxl": tiny_sdxl_pipeline}
LATENT_SIZES = [(8, 8), (6, 10)]
# Two computations of the same attention differ by float rounding only: far below this share of the
# output's scale, while FASA with a different FD moves the PD row by well above it.
TOLERANCE = 1e-5


class TinyDenoiser:
    """A tiny UNet with fixed random inputs: batch rows are (uncond, cond) prompt embeddings."""

    def __init__(self, kind: str, latent_size: tuple[int, int], variant: str = "smooth") -> None:
        self.unet = BUILDERS[kind](unet_variant=variant).unet
        self.latent_size = latent_size
        generator = torch.Generator().manual_seed(7)
        width = self.unet.config.cross_attention_dim
        self.states = torch.randn(2, 7, width, generator=generator)
        self.added = None
        if self.unet.config.addition_embed_type == "text_time":
            text_embeds = torch.randn(2, 32, generator=generator)
            self.added = {"text_embeds": text_embeds, "time_ids": torch.randn(2, 6, generator=generator)}

    def latents(self, seed: int) -> torch.Tensor:
        # One latent for both rows, as classifier-free guidance feeds it.
        one = torch.randn(1, 4, *self.latent_size, generator=torch.Generator().manual_seed(seed))
        return one.repeat(2, 1, 1, 1)

    @torch.no_grad()
    def __call__(self, latents: torch.Tensor, timestep: int = 10) -> torch.Tensor:
        unet = self.unet
        return unet(latents, timestep, encoder_hidden_states=self.states, added_cond_kwargs=self.added).sample

    def controller(self, **kwargs) -> AttentionController:
        return AttentionController(self.unet, default_fasa_layers(self.unet), self.latent_size, **kwargs)


def _scale(reference: torch.Tensor) -> float:
    return reference.abs().max().item()


def _run_fasa(denoiser: TinyDenoiser, fd_latents: torch.Tensor, pd_latents: torch.Tensor, omega: float,
              mask: torch.Tensor | None = None) -> torch.Tensor:
    controller = denoiser.controller()
    mask = torch.ones(denoiser.latent_size) if mask is None else mask
    with controller.installed():
        controller.step = 0
        controller.record(fd_cond_row=1)
        denoiser(fd_latents)
        controller.inject(pd_cond_rows=[1], mask=mask, omega=omega)
        return denoiser(pd_latents)


@pytest.mark.parametrize("kind", BUILDERS)
def test_passthrough_and_recording_are_bit_identical_to_diffusers(kind: str) -> None:
    denoiser = TinyDenoiser(kind, (6, 10), variant="random")
    latents = denoiser.latents(0)
    stock = denoiser(latents)
    controller = denoiser.controller()
    with controller.installed():
        assert torch.equal(denoiser(latents), stock)
        controller.step = 0
        controller.record(fd_cond_row=1, capture_tokens={"hair": [2, 3]})
        assert torch.equal(denoiser(latents), stock)
        controller.passthrough()
        assert torch.equal(denoiser(latents), stock)
    assert controller.calls == 3 * len(denoiser.unet.attn_processors)


@pytest.mark.parametrize("kind", BUILDERS)
@pytest.mark.parametrize("latent_size", LATENT_SIZES)
def test_fd_equal_to_pd_at_omega_zero_is_plain_attention(kind: str, latent_size: tuple[int, int]) -> None:
    # Attention over [K, K] with equal weights on both copies is attention over K.
    denoiser = TinyDenoiser(kind, latent_size)
    latents = denoiser.latents(0)
    stock = denoiser(latents)
    fasa = _run_fasa(denoiser, fd_latents=latents, pd_latents=latents, omega=0.0)
    assert (fasa - stock).abs().max().item() <= TOLERANCE * _scale(stock)


@pytest.mark.parametrize("kind", BUILDERS)
@pytest.mark.parametrize("latent_size", LATENT_SIZES)
def test_omega_changes_only_pd_conditional_stream(kind: str, latent_size: tuple[int, int]) -> None:
    denoiser = TinyDenoiser(kind, latent_size)
    pd_latents, fd_latents = denoiser.latents(0), denoiser.latents(1)
    stock = denoiser(pd_latents)
    weak = _run_fasa(denoiser, fd_latents, pd_latents, omega=0.0)
    strong = _run_fasa(denoiser, fd_latents, pd_latents, omega=2.0)
    scale = _scale(stock)

    # The unconditional row is computed the same way whatever omega is, and as plain attention.
    assert torch.equal(weak[0], strong[0])
    assert (weak[0] - stock[0]).abs().max().item() <= TOLERANCE * scale
    # The conditional row borrows from FD, and more so with a larger omega.
    assert (weak[1] - stock[1]).abs().max().item() > 100 * TOLERANCE * scale
    assert (strong[1] - weak[1]).abs().max().item() > 100 * TOLERANCE * scale


@pytest.mark.parametrize("kind", BUILDERS)
def test_an_empty_mask_leaves_the_pd_pass_exactly_as_it_was(kind: str) -> None:
    denoiser = TinyDenoiser(kind, (6, 10), variant="random")
    pd_latents, fd_latents = denoiser.latents(0), denoiser.latents(1)
    stock = denoiser(pd_latents)
    empty = torch.zeros(48, 80)  # any resolution: the mask is averaged onto each layer's grid
    assert torch.equal(_run_fasa(denoiser, fd_latents, pd_latents, omega=1.5, mask=empty), stock)


def test_fasa_acts_only_at_the_chosen_steps() -> None:
    denoiser = TinyDenoiser("sd", (8, 8), variant="random")
    pd_latents, fd_latents = denoiser.latents(0), denoiser.latents(1)
    stock = denoiser(pd_latents)
    controller = denoiser.controller()
    with controller.installed():
        controller.record(fd_cond_row=1)
        for step in range(2):
            controller.step = step
            denoiser(fd_latents)
        controller.inject(pd_cond_rows=[1], mask=torch.ones(8, 8), omega=0.5, steps=[1])
        controller.step = 0
        assert torch.equal(denoiser(pd_latents), stock)
        controller.step = 1
        assert not torch.allclose(denoiser(pd_latents)[1], stock[1])


def test_the_cache_holds_fd_conditional_keys_and_values_of_fasa_layers_only() -> None:
    denoiser = TinyDenoiser("sdxl", (6, 10))
    fd_latents, pd_latents = denoiser.latents(1), denoiser.latents(0)
    on_cpu = denoiser.controller(cache_device="cpu")
    layers = default_fasa_layers(denoiser.unet)
    with on_cpu.installed():
        on_cpu.record(fd_cond_row=1)
        for step in range(3):
            on_cpu.step = step
            denoiser(fd_latents)
        on_cpu.inject(pd_cond_rows=[1], mask=torch.ones(6, 10), omega=1.5)
        on_cpu.step = 2
        from_cpu_cache = denoiser(pd_latents)

    # Every FASA layer of the tiny SDXL runs at the 3x5 level with 64 channels: K and V, float32, 3 steps.
    assert on_cpu.cache_bytes == 3 * len(layers) * 2 * (3 * 5) * 64 * 4
    controller = denoiser.controller()
    with controller.installed():
        controller.record(fd_cond_row=1)
        for step in range(3):
            controller.step = step
            denoiser(fd_latents)
        controller.inject(pd_cond_rows=[1], mask=torch.ones(6, 10), omega=1.5)
        controller.step = 2
        assert torch.equal(denoiser(pd_latents), from_cpu_cache)


def test_the_original_processors_return_after_a_pass_that_failed() -> None:
    denoiser = TinyDenoiser("sd", (8, 8), variant="random")
    originals = denoiser.unet.attn_processors
    latents = denoiser.latents(0)
    stock = denoiser(latents)
    controller = denoiser.controller()
    with pytest.raises(RuntimeError, match="did not record"):
        with controller.installed():
            controller.step = 0
            controller.record(fd_cond_row=1)
            denoiser(latents)
            controller.inject(pd_cond_rows=[1], mask=torch.ones(8, 8), omega=0.5)
            controller.step = 1  # never recorded: the UNet call fails inside a FASA layer
            denoiser(latents)
    restored = denoiser.unet.attn_processors
    assert all(restored[name] is originals[name] for name in originals)
    calls = controller.calls
    assert torch.equal(denoiser(latents), stock)
    assert controller.calls == calls


def test_inject_refuses_steps_and_inputs_it_cannot_serve() -> None:
    denoiser = TinyDenoiser("sd", (8, 8))
    controller = denoiser.controller()
    with controller.installed():
        with pytest.raises(RuntimeError, match="record"):
            controller.inject(pd_cond_rows=[1], mask=torch.ones(8, 8), omega=0.5)
        controller.step = 0
        controller.record(fd_cond_row=1)
        denoiser(denoiser.latents(0))
        with pytest.raises(ValueError, match=r"\[3\]"):
            controller.inject(pd_cond_rows=[1], mask=torch.ones(8, 8), omega=0.5, steps=[0, 3])
        with pytest.raises(ValueError, match="mask"):
            controller.inject(pd_cond_rows=[1], mask=torch.full((8, 8), 2.0), omega=0.5)
        with pytest.raises(ValueError, match="omega"):
            controller.inject(pd_cond_rows=[1], mask=torch.ones(8, 8), omega=float("inf"))
        controller.inject(pd_cond_rows=[5], mask=torch.ones(1, 8, 8), omega=0.5)
        with pytest.raises(ValueError, match="row 5"):
            denoiser(denoiser.latents(0))


def test_a_step_must_be_set_before_recording() -> None:
    denoiser = TinyDenoiser("sd", (8, 8))
    controller = denoiser.controller()
    with controller.installed():
        controller.record(fd_cond_row=1)
        with pytest.raises(RuntimeError, match="step"):
            denoiser(denoiser.latents(0))


class _AdapterLikeProcessor:
    """Stands for a processor that does more than plain attention (an IP-Adapter's, say)."""

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None):
        raise AssertionError("never called: the controller refuses to replace it")


def test_a_processor_that_is_not_plain_attention_is_refused_not_dropped() -> None:
    denoiser = TinyDenoiser("sd", (8, 8))
    name = default_fasa_layers(denoiser.unet)[0]
    processors = denoiser.unet.attn_processors
    processors[name] = _AdapterLikeProcessor()
    denoiser.unet.set_attn_processor(dict(processors))
    controller = denoiser.controller()
    with pytest.raises(ConfigurationError, match="_AdapterLikeProcessor"):
        with controller.installed():
            pass
    assert isinstance(denoiser.unet.attn_processors[name], _AdapterLikeProcessor)
