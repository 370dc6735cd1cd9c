"""The cure end to end on the tiny FLUX: the properties the SD and SDXL cures have."""

from __future__ import annotations

import numpy as np
import pytest

from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure

STEPS = 4
SIZES = [(64, 64), (64, 48)]


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.float64)


def config(**changes) -> CureConfig:
    # FLUX's native size is 1024 px (256 on the tiny model): cure at the photo's own size here.
    return CureConfig(steps=STEPS, guidance=3.5, working_size=64, **changes)


@pytest.fixture
def flux_cure(load_tiny):
    def make(regions=HAIR_ON_TOP, variant="random", kind="flux"):
        return FreeCure(load_tiny(kind, variant), parser=FixedRegionParser(regions))
    return make


@pytest.mark.parametrize("size", SIZES, ids=["square", "non-square"])
def test_an_empty_mask_gives_the_reconstruction(flux_cure, photo, size):
    result = flux_cure(regions={}).cure(photo(*size), "a woman with black curly hair", config())

    assert pixels(result.working_image).tolist() == pixels(result.reconstruction).tolist()
    assert np.array_equal(pixels(result.image), pixels(photo(*size)))


@pytest.mark.parametrize("kind", ["flux", "flux-schnell"])
@pytest.mark.parametrize("size", SIZES, ids=["square", "non-square"])
def test_a_mask_changes_the_working_image_and_the_paste_keeps_the_rest(flux_cure, photo, kind, size):
    source = photo(*size)
    result = flux_cure(kind=kind).cure(source, "a man with black curly hair", config(omega=4.0))

    change = np.abs(pixels(result.working_image) - pixels(result.reconstruction)).mean(axis=-1)
    inside = result.masks["hair"].numpy() > 0.5
    assert change[inside].mean() > 0.5
    final = np.abs(pixels(result.image) - pixels(source)).mean(axis=-1)
    assert final[-4:].max() == 0, "the bottom rows are far from the hair mask and its feather"
    assert result.image.size == source.size


def test_apg_with_the_full_prompt_as_template_changes_nothing(flux_cure, photo):
    prompt = "a man laughing happily"
    result = flux_cure(regions={}).cure(photo(64, 48), prompt, config(template=prompt))

    assert [a.kind for a in result.attributes] == ["abstract"]
    assert pixels(result.working_image).tolist() == pixels(result.reconstruction).tolist()


def test_apg_branches_to_the_full_prompt_for_the_last_gamma_of_the_steps(flux_cure, photo):
    fc = flux_cure(regions={"skin": (0.25, 0.25, 0.75, 0.75)})
    result = fc.cure(photo(64, 64), "a man laughing happily", config())

    change = np.abs(pixels(result.working_image) - pixels(result.reconstruction)).mean()
    assert change > 0.5
    # FLUX has no guidance rows: inversion N + 1, foundation N, photo branch N.
    assert result.stats.evaluations["inversion"] == STEPS + 1
    assert result.stats.evaluations["foundation"] == STEPS
    # No spatial attribute, so the photo branch leaves its trajectory only where APG branches off
    # (gamma 0.5): the steps before are the trajectory's own, not recomputed.
    assert result.stats.evaluations["fasa"] == STEPS // 2


def test_rofa_reads_maps_of_the_t5_tokens(flux_cure, photo):
    result = flux_cure().cure(photo(64, 48), "a woman with black curly hair", config(method="rofa"))
    assert set(result.masks) >= {"hair", "union"}
    assert result.stats.evaluations["rofa"] == STEPS


def test_a_t5_tokenizer_that_states_no_length_cures_at_the_pipelines_own(tmp_path, photo):
    """Tokenizers saved from some T5 checkpoints have no model_max_length; transformers then reports
    1e30, which must not reach an int conversion: the pipeline's own sequence length is used."""
    import json

    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.testing import save_tiny_pipeline

    folder = save_tiny_pipeline("flux", tmp_path / "flux")
    settings_file = folder / "tokenizer_2" / "tokenizer_config.json"
    settings = json.loads(settings_file.read_text())
    settings.pop("model_max_length", None)
    settings_file.write_text(json.dumps(settings))
    pipe = load_pipeline(str(folder), device="cpu")
    assert pipe.tokenizer_2.model_max_length > 10**20

    cure = FreeCure(pipe, parser=FixedRegionParser(HAIR_ON_TOP))
    result = cure.cure(photo(64, 64), "a man with black curly hair", config())
    assert result.image.size == (64, 64)
    assert cure.backbone.max_sequence_length <= 512
