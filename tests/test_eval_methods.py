"""The eval's method adapters on a tiny SD pipeline loaded from disk: costs counted alike for the cure
and the peers, outputs at the photo's size, the shared UNet left as it was found."""

from __future__ import annotations

import pytest

from conftest import random_photo
from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit.cure.config import CureConfig
from freecure_edit.errors import ConfigurationError
from freecure_edit.evaluation import build_method
from freecure_edit.evaluation.methods import UnetCounter, check_method_specs
from freecure_edit.evaluation.methods.cure import CureCache, config_overrides

STEPS = 4
PROMPT = "a woman with black curly hair"


@pytest.fixture(scope="module")
def setup(load_tiny):
    from freecure_edit import FreeCure

    freecure = FreeCure(load_tiny("sd", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    counter = UnetCounter(freecure.pipe.unet)
    cache = CureCache(freecure)
    base = CureConfig(steps=STEPS, detect=False)

    def method(spec):
        return build_method(spec, pipe=freecure.pipe, counter=counter, cache=cache, base_config=base,
                            steps=STEPS, guidance=7.5)

    yield freecure, counter, method
    counter.close()


def test_the_cure_costs_what_the_unet_hook_counts(setup):
    freecure, counter, method = setup
    photo = random_photo(64, 64, 3)
    before = counter.evaluations
    cure = method("cure").run(photo, PROMPT, 0)
    hooked = counter.evaluations - before
    assert cure.evaluations == hooked > 0
    assert cure.image.size == photo.size and cure.mask is not None and "hair" in cure.masks
    # The same photo and prompt again (another seed, or FD): served by the cure already made, at its own cost.
    again = method("cure").run(photo, PROMPT, 1)
    fd = method("fd").run(photo, PROMPT, 0)
    assert counter.evaluations - before == hooked
    assert again.evaluations == cure.evaluations and list(again.image.getdata()) == list(cure.image.getdata())
    assert 0 < fd.evaluations < cure.evaluations
    assert fd.image.size == photo.size
    assert list(fd.image.getdata()) == list(freecure.cure(photo, PROMPT, CureConfig(steps=STEPS, detect=False))
                                            .fd_image.getdata())


def test_a_cure_setting_costs_the_same_whichever_setting_ran_before_it_on_the_photo(setup):
    # FreeCure reuses a photo's inversion; a setting measured after another must still count its own.
    _, _, method = setup
    alone = method("cure:apg=reinvert").run(random_photo(64, 64, 11), PROMPT, seed=0)
    photo = random_photo(64, 64, 12)
    method("cure").run(photo, PROMPT, seed=0)
    after = method("cure:apg=reinvert").run(photo, PROMPT, seed=0)
    assert after.evaluations == alone.evaluations > 0


def test_a_cure_override_reaches_the_cure(setup):
    _, _, method = setup
    photo = random_photo(64, 64, 4)
    fasa = method("cure").run(photo, PROMPT, 0)
    zero = method("cure:strength=0").run(photo, PROMPT, 0)
    assert list(zero.image.getdata()) == list(photo.getdata())
    assert list(fasa.image.getdata()) != list(photo.getdata())


def test_img2img_counts_rows_through_the_unet_and_keeps_the_size(setup):
    freecure, counter, method = setup
    photo = random_photo(64, 64, 5)
    before = dict(freecure.pipe.unet.attn_processors)
    output = method("img2img").run(photo, PROMPT, 0)
    # strength 0.5 of 4 steps: 2 steps, two rows each with guidance.
    assert output.evaluations == 2 * 2
    assert output.image.size == photo.size
    first = method("img2img:strength=1.0").run(photo, PROMPT, 7)
    second = method("img2img:strength=1.0").run(photo, PROMPT, 7)
    assert first.evaluations == 2 * STEPS
    assert list(first.image.getdata()) == list(second.image.getdata())
    assert list(method("img2img:strength=1.0").run(photo, PROMPT, 8).image.getdata()) != list(first.image.getdata())
    assert {k: type(v) for k, v in freecure.pipe.unet.attn_processors.items()} == {k: type(v) for k, v in before.items()}


def test_ledits_edits_the_prompts_attributes_and_restores_the_unet(setup):
    freecure, counter, method = setup
    photo = random_photo(64, 64, 6)
    before = {k: type(v) for k, v in freecure.pipe.unet.attn_processors.items()}
    output = method("ledits").run(photo, "a woman with black curly hair, laughing happily", 0)
    # Inversion at source guidance (2 rows a step) and the edit: unconditional + one row per concept (2).
    assert output.evaluations == 2 * STEPS + 3 * STEPS
    assert output.image.size == photo.size
    assert {k: type(v) for k, v in freecure.pipe.unet.attn_processors.items()} == before
    assert any("intersect" in warning for warning in output.warnings)


def test_method_specs_and_cure_overrides_are_checked_before_anything_loads():
    assert config_overrides("method=rofa, omega=1,fasa-steps=0.1;0.9,detect=false,pd_guidance=none", "cure") == {
        "method": "rofa", "omega": 1.0, "fasa_steps": (0.1, 0.9), "detect": False, "pd_guidance": None}
    assert check_method_specs(["input", "cure:method=rofa", "cure:method=rofa", "IMG2IMG"]) == (
        "input", "cure:method=rofa", "img2img")
    for bad, message in [("sdedit", "unknown method"), ("cure:omega", "SETTING=VALUE"), ("cure:steps=x", "not a int"),
                         ("cure:method=nope", "unknown method 'nope'"), ("ledits:x=1", "takes no settings"),
                         ("img2img:strength=2", "strength")]:
        with pytest.raises(ConfigurationError, match=message):
            check_method_specs([bad])


def test_every_setting_left_to_the_model_can_be_given_in_a_method_spec():
    """A CureConfig field whose default is None (left to the model) needs its type spelled out, since the
    default's type says nothing; fd_start and fd_blend became such fields and once crashed here."""
    from dataclasses import fields

    from freecure_edit import CureConfig

    for field in fields(CureConfig):
        if field.default is None:
            value = "0.5;0.5" if field.name in ("fasa_layers", "attributes") else "1"
            parsed = config_overrides(f"{field.name}={value}", "cure")
            assert field.name in parsed, field.name
    assert config_overrides("fd_start=0.2,fd_blend=1", "cure") == {"fd_start": 0.2, "fd_blend": 1.0}


@pytest.mark.parametrize("spec", ["ledits", "img2img"])
def test_the_peers_run_on_sdxl_too_and_leave_its_unet_as_they_found_it(load_tiny, spec):
    from freecure_edit import FreeCure

    freecure = FreeCure(load_tiny("sdxl", "smooth"), parser=FixedRegionParser(HAIR_ON_TOP))
    counter = UnetCounter(freecure.pipe.unet)
    method = build_method(spec, pipe=freecure.pipe, counter=counter, cache=CureCache(freecure),
                          base_config=CureConfig(steps=STEPS, detect=False), steps=STEPS, guidance=7.5)
    photo = random_photo(64, 64, 8)
    before = {k: type(v) for k, v in freecure.pipe.unet.attn_processors.items()}
    try:
        output = method.run(photo, "a woman with black curly hair, laughing happily", 0)
    finally:
        counter.close()
    assert "XL" in type(method._peer).__name__, "the SDXL peer pipeline, not the SD one"
    assert output.image.size == photo.size and output.evaluations > 0
    assert {k: type(v) for k, v in freecure.pipe.unet.attn_processors.items()} == before
