"""The method's knobs do what they say (issue 13): strength is a dial, APG switches to the full prompt,
FASA reads FD's conditional row, and what a front end cannot do is said, not dropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureCallbacks, CureConfig, FreeCure

STEPS = 6
HAIR = "a man with black curly hair"


@pytest.fixture
def fc(load_tiny):
    return FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))


class FinalLatents:
    """Records what the autoencoder decodes: the cure's last decode is its final latent."""

    def __init__(self, fc, monkeypatch):
        self.latents: list[torch.Tensor] = []
        original = fc.backbone.decode

        def recording(latents):
            self.latents.append(latents.detach().clone())
            return original(latents)

        monkeypatch.setattr(fc.backbone, "decode", recording)

    @property
    def last(self) -> torch.Tensor:
        return self.latents[-1]


def relative_change(z: torch.Tensor, reference: torch.Tensor) -> float:
    return float((z - reference).norm() / reference.norm())


def the_inversion(fc):
    (inversion,) = fc._inversions.values()
    return inversion


@pytest.mark.parametrize("method", ["fasa", "rofa"])
def test_strength_is_a_continuous_dial(fc, photo, monkeypatch, method):
    final = FinalLatents(fc, monkeypatch)
    source = photo(64, 64)
    latents = {}
    for strength in (0.0, 0.1, 0.25, 0.5, 1.0):
        fc.cure(source, HAIR, CureConfig(steps=4, method=method, strength=strength))
        latents[strength] = final.last

    z0 = the_inversion(fc).z0
    assert torch.equal(latents[0.0], z0), "strength 0 is the photo's latent, bit for bit"
    change = {strength: relative_change(z, z0) for strength, z in latents.items()}
    assert change[0.0] < change[0.25] < change[0.5] < change[1.0]
    # Not a switch: a tenth of the strength gives well under a third of the change.
    assert change[0.1] < 0.3 * change[1.0]


def test_apg_branches_to_the_full_prompt(load_tiny, photo, monkeypatch):
    """An expression has no region: only the APG branch's switch to the full prompt can change it."""
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser({}))
    final = FinalLatents(fc, monkeypatch)
    source = photo(64, 48)
    prompt = "a man laughing happily"

    fc.cure(source, prompt, CureConfig(steps=STEPS))
    changed = relative_change(final.last, the_inversion(fc).z0)
    fc._inversions.clear()
    fc.cure(source, prompt, CureConfig(steps=STEPS, template=prompt))
    unchanged = relative_change(final.last, the_inversion(fc).z0)

    assert changed > 1e-2
    assert unchanged == 0.0, "with the prompt as template, the full prompt is the photo's own"


def test_fasa_reads_the_foundations_conditional_row(load_tiny, photo, monkeypatch):
    """Template = prompt puts FD on the photo's own trajectory, so with omega 0 and a full mask FASA is
    attention over duplicated keys: the reconstruction again, up to float error. Keys from another row
    (the unconditional one) would move it by about 1e-2. Both branches keep all their corrections and run
    at one guidance (SD 1.x's photo default runs FD lower), as the same trajectory needs."""
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    final = FinalLatents(fc, monkeypatch)
    full = CureCallbacks(on_masks=lambda context: {"hair": torch.ones_like(context.masks["hair"])})

    same_corrections = {"mask_corrections": 1.0, "fd_mask_corrections": 1.0, "guidance": 7.5}
    fc.cure(photo(64, 64), HAIR, CureConfig(steps=STEPS, template=HAIR, omega=0.0, **same_corrections),
            callbacks=full)

    assert relative_change(final.last, the_inversion(fc).z0) < 1e-4


def test_fasa_at_full_strength_moves_the_latent(load_tiny, photo, monkeypatch):
    """The counterpart of the test above: the same set-up with the real prompt does change the photo,
    so the tolerance there is not loose enough to hide a cure."""
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    final = FinalLatents(fc, monkeypatch)
    fc.cure(photo(64, 64), HAIR, CureConfig(steps=STEPS, omega=0.0))
    assert relative_change(final.last, the_inversion(fc).z0) > 1e-3


def test_rofa_blends_with_fewer_steps_than_the_authors_start_step(fc, photo, monkeypatch):
    """The authors' start (step 5 of 50) is a share of the schedule, so a 4-step cure still blends."""
    final = FinalLatents(fc, monkeypatch)
    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=4, method="rofa"))
    assert relative_change(final.last, the_inversion(fc).z0) > 1e-3
    assert not any("rofa" in warning for warning in result.warnings)


def test_fd_corrections_without_the_exact_front_end_are_reported(fc, photo):
    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3, inversion="ddim"))
    assert any("fd_corrections needs the exact inversion" in warning for warning in result.warnings)
    quiet = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3, inversion="ddim", fd_corrections=False))
    assert not any("fd_corrections" in warning for warning in quiet.warnings)


def test_a_removal_at_guidance_one_is_reported(fc, photo):
    result = fc.cure(photo(64, 64), "a man without glasses", CureConfig(steps=3, guidance=1.0))
    assert any("removing 'glasses'" in warning for warning in result.warnings)


def test_foundation_prompt_of_a_removal():
    from freecure_edit.cure.pipeline import foundation_prompt
    from freecure_edit.prompts import parse_prompt

    assert foundation_prompt(parse_prompt("a man without glasses")) == ("a man", "glasses")
    assert foundation_prompt(parse_prompt("a man with black hair and no beard")) == ("a man, black hair", "beard")
    assert foundation_prompt(parse_prompt(HAIR)) == (HAIR, "")


@pytest.mark.parametrize("inversion", ["exact", "ddim", "null-text", "negative-prompt"])
def test_a_removal_is_the_foundations_negative_prompt_under_every_front_end(fc, photo, monkeypatch, inversion):
    """Null-text and negative-prompt inversion put their own unconditional embedding in the sampler;
    the foundation branch must keep the removed thing as its negative prompt all the same."""
    glasses = fc.backbone.encode_prompt("a man", "glasses").uncond.hidden_states
    seen = []
    original = fc.backbone.denoise

    def recording(latents, timestep, conditioning):
        rows = conditioning.hidden_states
        seen.append(any(torch.equal(row, glasses[0]) for row in rows))
        return original(latents, timestep, conditioning)

    monkeypatch.setattr(fc.backbone, "denoise", recording)
    config = CureConfig(steps=2, inversion=inversion, attributes=("without glasses",))
    fc.cure(photo(64, 64), "a man without glasses", config)
    assert sum(seen) >= 2, "every foundation step is guided away from 'glasses'"


def test_masks_replaced_by_the_caller_drop_the_parsers_warnings(load_tiny, photo):
    fc = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser({}))  # the parser finds no hair
    painted = CureCallbacks(on_masks=lambda context: {"hair": torch.ones_like(context.masks["hair"])})

    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3), callbacks=painted)

    assert not any("is empty" in warning for warning in result.warnings)
    assert any("covers 100%" in warning for warning in result.warnings), "what still applies stays"
    kept = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3))
    assert any("the mask of 'hair'" in warning for warning in kept.warnings)


def test_the_fd_cache_holds_only_fasas_steps_and_is_gone_before_the_decode(fc, photo, monkeypatch):
    from freecure_edit.attention import fd_cache

    caches = []
    original_init = fd_cache.FdKeyValueCache.__init__

    def tracking_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        caches.append(self)

    monkeypatch.setattr(fd_cache.FdKeyValueCache, "__init__", tracking_init)
    held_at_decode = []
    decode = fc.backbone.decode
    monkeypatch.setattr(fc.backbone, "decode",
                        lambda z: held_at_decode.append(sum(c.nbytes for c in caches)) or decode(z))

    full = fc.cure(photo(64, 64), HAIR, CureConfig(steps=4))
    half = fc.cure(photo(64, 64), HAIR, CureConfig(steps=4, fasa_steps=(0.0, 0.5)))

    assert full.stats.fd_cache_bytes == 2 * half.stats.fd_cache_bytes > 0
    # Decodes: the foundation image (cache full), then the result (cache released), per cure.
    assert held_at_decode[1] == 0 and held_at_decode[3] == 0


def test_the_reconstruction_is_decoded_only_when_read(fc, photo, monkeypatch):
    final = FinalLatents(fc, monkeypatch)
    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3))
    assert len(final.latents) == 2, "the foundation image and the result, nothing else"
    reconstruction = result.reconstruction
    assert len(final.latents) == 3 and result.reconstruction is reconstruction
    assert torch.equal(final.last, the_inversion(fc).z0)


def test_autoencoder_and_parser_are_phases_of_their_own(fc, photo):
    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3))
    seconds = result.stats.seconds
    assert {"inversion", "foundation", "autoencoder", "parser", "masks", "fasa"} <= set(seconds)
    assert result.stats.evaluations["autoencoder"] == 0 and result.stats.evaluations["parser"] == 0
    assert result.stats.evaluations["foundation"] == 2 * 3


@pytest.mark.parametrize("processor", ["classic", "sliced"])
def test_inversion_and_cure_share_the_attention_arithmetic(load_tiny, photo, monkeypatch, processor):
    """With the prompt as template, APG's branch is the photo's own prompt, so the cure must land on
    the photo's latent bit for bit; on the random model any difference between the inversion's and the
    cure's attention arithmetic grows far beyond that."""
    from types import SimpleNamespace

    import torch.nn.functional as F
    from diffusers.models.attention_processor import AttnProcessor

    import freecure_edit.attention.processor as processor_module

    pipe = load_tiny("sd", "random")
    if processor == "classic":
        pipe.unet.set_attn_processor(AttnProcessor())
    else:
        pipe.unet.set_attention_slice(1)
    originals = {name: type(p) for name, p in pipe.unet.attn_processors.items()}
    fc = FreeCure(pipe, parser=FixedRegionParser({}))
    final = FinalLatents(fc, monkeypatch)
    sliced_rows = []

    def spy(query, *args, **kwargs):
        sliced_rows.append(query.shape[0] if query.ndim == 3 else query.shape[0] * query.shape[1])
        return F.scaled_dot_product_attention(query, *args, **kwargs)

    monkeypatch.setattr(processor_module, "F", SimpleNamespace(scaled_dot_product_attention=spy))
    prompt = "a man laughing happily"

    fc.cure(photo(64, 64), prompt, CureConfig(steps=4, template=prompt))

    assert torch.equal(final.last, the_inversion(fc).z0)
    assert {name: type(p) for name, p in pipe.unet.attn_processors.items()} == originals
    if processor == "sliced":
        assert sliced_rows and max(sliced_rows) == 1, "attention slicing still attends one head at a time"


@pytest.mark.parametrize("apg", ["branch", "reinvert"])
def test_each_phase_reports_its_own_steps_once(fc, photo, apg):
    steps, progress = [], []
    callbacks = CureCallbacks(on_step=lambda step: steps.append((step.phase, step.step, step.total)))

    fc.cure(photo(64, 64), "a man with black curly hair, smiling", CureConfig(steps=4, apg=apg),
            progress=lambda phase, done, total: progress.append((phase, done, total)), callbacks=callbacks)

    apg_steps = 2  # gamma 0.5 of 4
    fasa = 4 - apg_steps if apg == "branch" else 4
    apg_reports = apg_steps * (2 if apg == "reinvert" else 1)  # a re-inversion, then its denoising
    expected = ([("inversion", i, 4) for i in range(1, 5)] + [("foundation", i, 4) for i in range(1, 5)]
                + [("fasa", i, fasa) for i in range(1, fasa + 1)]
                + [("apg", i, apg_reports) for i in range(1, apg_reports + 1)])
    assert steps == expected
    assert progress == expected


def test_mask_corrections_let_the_cure_move_the_mask_and_keep_a_zero_strength_photo(fc, photo, monkeypatch):
    final = FinalLatents(fc, monkeypatch)
    source = photo(64, 64)
    latents = {}
    # Under FASA alone (the authors' carrying): with fd_blend the photo branch's latent inside the mask is
    # the foundation's until its last step, so the corrections act there only once.
    paper = {"fd_start": 0.0, "fd_blend": 0.0}
    for share in (1.0, 0.5, 0.0):
        result = fc.cure(source, HAIR, CureConfig(steps=4, mask_corrections=share, **paper))
        assert not any("mask_corrections" in warning for warning in result.warnings)
        latents[share] = final.last
    z0 = the_inversion(fc).z0
    height = z0.shape[-2]
    inside = (..., slice(None, int(height * 0.375)), slice(None))
    change = {share: relative_change(z[inside], latents[1.0][inside]) for share, z in latents.items()}
    assert 0 < change[0.5] < change[0.0], change
    below = (..., slice(int(height * 0.625), None), slice(None))
    outside = relative_change(latents[0.0][below], latents[1.0][below])
    assert outside < 0.2 * change[0.0], "the corrections are given up inside the mask only"

    fc.cure(source, HAIR, CureConfig(steps=4, mask_corrections=0.0, strength=0.0, **paper))
    assert torch.equal(final.last, z0), "strength 0 stays the photo whatever the corrections"
    # The share given up scales with the strength, so a faint cure stays faint.
    faint = {}
    for share in (1.0, 0.0):
        fc.cure(source, HAIR, CureConfig(steps=4, mask_corrections=share, strength=0.05, **paper))
        faint[share] = final.last
    faint_change = relative_change(faint[0.0][inside], faint[1.0][inside])
    assert faint_change < 0.2 * change[0.0], (faint_change, change[0.0])


def test_mask_corrections_without_the_exact_front_end_are_reported(fc, photo):
    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3, inversion="ddim", mask_corrections=0.5))
    assert any("mask_corrections needs the exact inversion" in warning for warning in result.warnings)


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_mask_corrections_out_of_range_are_refused(share):
    from freecure_edit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="mask_corrections"):
        CureConfig(mask_corrections=share)


def test_fd_mask_corrections_free_the_foundation_inside_the_photos_region_only(fc, photo, monkeypatch):
    """The foundation image is the first decode of a cure; its branch gives up its corrections inside the
    photo's hair region (grown one latent cell) and keeps them below it."""
    final = FinalLatents(fc, monkeypatch)
    source = photo(64, 64)

    def foundation_latent(prompt=HAIR, **settings):
        final.latents.clear()
        result = fc.cure(source, prompt, CureConfig(steps=4, **settings))
        assert not any("fd_mask_corrections" in warning for warning in result.warnings)
        return final.latents[0], final.last

    fd, cured = {}, {}
    for share in (1.0, 0.5, 0.0):
        fd[share], cured[share] = foundation_latent(fd_mask_corrections=share)
    height = fd[1.0].shape[-2]
    inside = (..., slice(None, int(height * 0.375)), slice(None))
    below = (..., slice(int(height * 0.625), None), slice(None))
    change = {share: relative_change(z[inside], fd[1.0][inside]) for share, z in fd.items()}
    assert 0 < change[0.5] < change[0.0], change
    assert relative_change(fd[0.0][below], fd[1.0][below]) < 0.2 * change[0.0]
    assert not torch.equal(cured[0.0], cured[1.0]), "the photo branch reads the changed foundation"

    # Strength 0 gives up nothing, so the foundation branch is the default one.
    faint, _ = foundation_latent(fd_mask_corrections=0.0, strength=0.0)
    assert torch.equal(faint, foundation_latent(strength=0.0)[0])
    # Glasses the photo lacks have no region in its parse: nothing to give up.
    glasses = "a man wearing glasses"
    assert torch.equal(foundation_latent(glasses, fd_mask_corrections=0.0)[0], foundation_latent(glasses)[0])


@pytest.mark.parametrize("settings", [{"inversion": "ddim"}, {"fd_corrections": False}])
def test_fd_mask_corrections_without_foundation_corrections_are_reported(fc, photo, settings):
    result = fc.cure(photo(64, 64), HAIR, CureConfig(steps=3, fd_mask_corrections=0.5, **settings))
    assert any("fd_mask_corrections needs fd_corrections" in warning for warning in result.warnings)
    assert not any("fd_mask_corrections" in warning
                   for warning in fc.cure(photo(64, 64), HAIR, CureConfig(steps=3, **settings)).warnings)


def test_fd_mask_corrections_out_of_range_are_refused():
    from freecure_edit.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="fd_mask_corrections"):
        CureConfig(fd_mask_corrections=1.01)


def test_the_corrections_left_to_their_defaults_are_the_toy_worlds_choice_and_warn_nowhere(fc, photo, monkeypatch):
    from freecure_edit.cure.config import FD_MASK_CORRECTIONS, MASK_CORRECTIONS

    final = FinalLatents(fc, monkeypatch)
    source = photo(64, 64)
    fc.cure(source, HAIR, CureConfig(steps=3))
    by_default = final.last
    explicit = CureConfig(steps=3, mask_corrections=MASK_CORRECTIONS, fd_mask_corrections=FD_MASK_CORRECTIONS)
    fc.cure(source, HAIR, explicit)
    assert torch.equal(final.last, by_default)
    fc.cure(source, HAIR, CureConfig(steps=3, mask_corrections=1.0, fd_mask_corrections=1.0))
    assert not torch.equal(final.last, by_default)
    for settings in ({"inversion": "ddim"}, {"fd_corrections": False}):
        warnings = fc.cure(source, HAIR, CureConfig(steps=3, **settings)).warnings
        assert not any("mask_corrections" in warning for warning in warnings), warnings
