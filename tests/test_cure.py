"""The cure end to end on tiny models: properties that hold for any weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure

STEPS = 6
SIZES = [(64, 64), (80, 56)]


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


@pytest.fixture
def cure_with(load_tiny):
    def make(kind="sd", regions=HAIR_ON_TOP, variant="smooth"):
        return FreeCure(load_tiny(kind, variant), parser=FixedRegionParser(regions))
    return make


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("size", SIZES, ids=["square", "non-square"])
def test_an_empty_mask_gives_the_reconstruction(cure_with, photo, kind, size):
    fc = cure_with(kind, regions={})  # the parser finds no hair anywhere
    source = photo(*size)

    result = fc.cure(source, "a woman with black curly hair", CureConfig(steps=STEPS))

    assert pixels(result.working_image).tolist() == pixels(result.reconstruction).tolist()
    assert np.array_equal(pixels(result.image), pixels(source)), "nothing to paste: the photo is untouched"
    assert any("hair" in warning for warning in result.warnings)


@pytest.mark.parametrize("kind", ["sd", "sdxl"])
@pytest.mark.parametrize("size", SIZES, ids=["square", "non-square"])
def test_a_mask_changes_the_image_and_only_inside_the_paste_region(cure_with, photo, kind, size):
    fc = cure_with(kind)
    source = photo(*size)

    result = fc.cure(source, "a man with black curly hair", CureConfig(steps=STEPS, omega=4.0))

    # At the working size FASA changes the hair region. (Every PD query sees the masked FD keys, so
    # with random weights, whose attention is not local, the rest moves too; trained weights attend
    # hair to hair. The paste-back is what keeps the rest of the photo, and that holds for any weights.)
    working_change = np.abs(pixels(result.working_image) - pixels(result.reconstruction)).mean(axis=-1)
    inside = result.masks["hair"].numpy() > 0.5
    assert working_change[inside].mean() > 0.5
    final_change = np.abs(pixels(result.image) - pixels(source)).mean(axis=-1)
    support = _paste_support(result, source.size)
    assert final_change[support].mean() > 0.5
    assert final_change[~support].max() == 0, "outside the paste support the photo is bit-identical"
    assert result.image.size == source.size


def _paste_support(result, size):
    from freecure_edit.imageio.compose import feathered_weight, paste_feather
    import torch.nn.functional as F

    width, height = size
    mask = F.interpolate(result.masks["paste"][None, None], size=(height, width), mode="bilinear",
                         align_corners=False)[0, 0]
    return feathered_weight(mask, paste_feather(result.config.paste_feather_px, size)).numpy() > 0


@pytest.mark.parametrize("apg", ["branch", "reinvert"])
def test_apg_with_the_full_prompt_as_template_changes_nothing(cure_with, photo, apg):
    # Branching is exact on any model; re-inversion is plain DDIM, exact only where eps is zero.
    variant = "smooth" if apg == "branch" else "zero"
    fc = cure_with("sd", regions={}, variant=variant)
    prompt = "a man laughing happily"
    config = CureConfig(steps=STEPS, apg=apg, template=prompt)

    result = fc.cure(photo(64, 48), prompt, config)

    assert [a.kind for a in result.attributes] == ["abstract"]
    difference = np.abs(pixels(result.working_image) - pixels(result.reconstruction)).max()
    assert difference <= (0 if apg == "branch" else 1)


def test_apg_changes_the_face_of_an_expression_prompt(cure_with, photo):
    fc = cure_with("sd", regions={"skin": (0.25, 0.25, 0.75, 0.75)})
    source = photo(64, 64)

    result = fc.cure(source, "a man laughing happily", CureConfig(steps=STEPS))

    # No spatial attribute: before the APG branch (the last gamma = half of the steps) nothing acts, so
    # that half is the photo's trajectory, taken from the inversion without evaluating the UNet.
    assert result.stats.evaluations["fasa"] == 2 * (STEPS // 2)
    change = np.abs(pixels(result.image) - pixels(source)).mean(axis=-1)
    assert change[20:44, 20:44].mean() > 0
    assert change[:8].max() == 0 and change[-8:].max() == 0, "outside the face the photo is kept"


@pytest.mark.parametrize("pd_guidance, budget", [(None, 7), (1.0, 5)])
def test_evaluations_stay_within_the_cost_model(cure_with, photo, pd_guidance, budget):
    fc = cure_with("sd")
    config = CureConfig(steps=STEPS, pd_guidance=pd_guidance)

    result = fc.cure(photo(64, 64), "a man with black curly hair", config)

    stats = result.stats
    assert stats.total_evaluations <= budget * STEPS + 2
    assert stats.evaluations["foundation"] == 2 * STEPS
    assert stats.evaluations["fasa"] == (2 if pd_guidance is None else 1) * STEPS
    assert stats.fd_cache_bytes > 0


def test_reinverting_apg_costs_at_most_three_gamma_n(cure_with, photo):
    fc = cure_with("sd")
    config = CureConfig(steps=8, apg="reinvert", gamma=0.5)

    result = fc.cure(photo(64, 64), "a man with black hair, smiling", config)

    assert 0 < result.stats.evaluations["apg"] <= 3 * 0.5 * 8


def test_a_second_prompt_on_the_same_photo_reuses_the_inversion(cure_with, photo):
    fc = cure_with("sd")
    source = photo(64, 64)
    fc.cure(source, "a woman with black curly hair", CureConfig(steps=STEPS))

    second = fc.cure(source, "a woman with blonde hair", CureConfig(steps=STEPS))

    assert second.stats.evaluations["inversion"] == 0


def test_a_prompt_without_attributes_returns_the_photo_with_a_warning(cure_with, photo):
    fc = cure_with("sd")
    source = photo(64, 64)
    result = fc.cure(source, "a photo of a man", CureConfig(steps=STEPS))
    assert np.array_equal(pixels(result.image), pixels(source))
    assert result.warnings and "no facial attribute" in result.warnings[0]
    assert result.stats.total_evaluations == 0


def test_strength_zero_changes_nothing(cure_with, photo):
    fc = cure_with("sd")
    source = photo(64, 64)
    result = fc.cure(source, "a man with black curly hair, smiling", CureConfig(steps=STEPS, strength=0.0))
    assert np.array_equal(pixels(result.image), pixels(source))


def test_the_attention_hooks_are_removed_after_a_failed_cure(cure_with, photo):
    fc = cure_with("sd")
    originals = {name: type(p) for name, p in fc.pipe.unet.attn_processors.items()}

    def broken_parse(image):
        raise RuntimeError("parser crashed")

    fc.parser._parse_rgb = broken_parse
    with pytest.raises(RuntimeError, match="parser crashed"):
        fc.cure(photo(64, 64), "a man with black curly hair", CureConfig(steps=STEPS))

    assert {name: type(p) for name, p in fc.pipe.unet.attn_processors.items()} == originals


def test_intermediates_are_written(cure_with, photo, tmp_path):
    fc = cure_with("sd")
    result = fc.cure(photo(64, 64), "a woman with black hair and blue eyes", CureConfig(steps=STEPS))
    written = {path.name for path in result.save_intermediates(tmp_path / "why")}
    assert {"foundation.png", "reconstruction.png", "mask-hair.png", "mask-union.png",
            "mask-overlay.png"} <= written


def test_a_cure_through_a_real_parser_loaded_from_disk(load_tiny, photo, tmp_path):
    from mask_fixtures import save_tiny_segformer

    folder = save_tiny_segformer(tmp_path / "parser", hot_label="hair")
    fc = FreeCure(load_tiny("sdxl", "smooth"), parser="segformer", parser_model=str(folder))

    result = fc.cure(photo(56, 72), "a woman with red long straight hair", CureConfig(steps=STEPS))

    assert float(result.masks["hair"].min()) == 1.0
    assert result.image.size == (56, 72)


def test_the_cure_builds_no_autograd_graph(cure_with, photo, monkeypatch):
    """Sampling with gradients on would keep every activation of every step alive."""
    fc = cure_with("sd")
    seen = []
    original = fc.backbone.denoise

    def recording_denoise(latents, timestep, conditioning):
        seen.append(torch.is_grad_enabled())
        return original(latents, timestep, conditioning)

    monkeypatch.setattr(fc.backbone, "denoise", recording_denoise)
    fc.cure(photo(64, 64), "a man with black curly hair, smiling", CureConfig(steps=3))
    assert seen and not any(seen)


def test_a_mask_over_most_of_the_image_is_reported(cure_with, photo):
    fc = cure_with("sd", regions={"hair": (0.0, 0.0, 1.0, 0.9)})
    result = fc.cure(photo(64, 64), "a woman with black curly hair", CureConfig(steps=3, detect=False))
    assert any("of the image, so most of the photo was regenerated" in warning for warning in result.warnings)


@pytest.mark.parametrize(("mode", "prompt", "warned"), [
    ("L", "a woman with red curly hair", True),
    ("L", "a woman with curly hair", False),
    ("L", "a woman with black curly hair", False),
    ("L", "a woman without pink glasses", False),
    ("RGB", "a woman with red curly hair", False),
])
def test_a_colour_asked_of_a_grayscale_photo_is_warned_about(cure_with, photo, tmp_path, mode, prompt, warned):
    # The output of a grayscale photo is written in grayscale, so the colour would vanish without a word.
    from freecure_edit.imageio import load_image

    path = tmp_path / "photo.png"
    photo(64, 64).convert(mode).save(path)
    result = cure_with().cure(load_image(path), prompt, CureConfig(steps=2))

    lost = [warning for warning in result.warnings if "grayscale" in warning]
    assert bool(lost) == warned, result.warnings
    if warned:
        assert "'red curly hair'" in lost[0]
