"""FLUX's own sampling settings where the user gives none, and a removal's negative prompt on FLUX."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_fixtures import run_cli
from cure_fixtures import HAIR_ON_TOP, FixedRegionParser
from freecure_edit import CureConfig, FreeCure
from freecure_edit.cure.estimate import expected_evaluations
from freecure_edit.prompts import parse_prompt

GLASSES = {**HAIR_ON_TOP, "eye_g": (0.2, 0.4, 0.8, 0.6)}
REMOVAL = "a man without glasses"


@pytest.fixture
def flux_cure(load_tiny):
    def make(kind="flux", regions=HAIR_ON_TOP, variant="random"):
        return FreeCure(load_tiny(kind, variant), parser=FixedRegionParser(regions))
    return make


def test_flux_dev_cures_at_28_steps_and_guidance_3_5_unless_told_otherwise(flux_cure, photo):
    cure = flux_cure()
    result = cure.cure(photo(64, 64), "a woman with black hair", CureConfig(working_size=64))

    assert (result.config.steps, result.config.guidance) == (28, 3.5)
    assert result.stats.evaluations["inversion"] == 28 + 1 and result.stats.evaluations["foundation"] == 28
    assert result.model_defaults == {"model": "FLUX.1-dev", "used": ["steps", "guidance", "true_cfg"]}
    assert result.summary()["config"]["steps"] == 28
    given = cure.resolve_config(CureConfig(steps=3, guidance=2.0))
    assert (given.steps, given.guidance) == (3, 2.0)


def test_how_the_foundation_is_carried_in_is_the_models_photo_default(load_tiny, flux_cure):
    """SD 1.x photos: fd_start 0.2 and fd_blend 1 (the toy world's table); SDXL, FLUX, a generation and
    fresh noise keep the authors' cure (0 and 0); a value the user gives is kept, each on its own."""
    sd = FreeCure(load_tiny("sd"), parser=FixedRegionParser(HAIR_ON_TOP))
    photo = sd.resolve_config()
    assert (photo.fd_start, photo.fd_blend) == (0.2, 1.0)
    for resolved in (sd.resolve_config(photo=False), sd.resolve_config(CureConfig(fd_noise="fresh")),
                     FreeCure(load_tiny("sdxl"), parser=FixedRegionParser(HAIR_ON_TOP)).resolve_config(),
                     flux_cure("flux").resolve_config()):
        assert (resolved.fd_start, resolved.fd_blend) == (0.0, 0.0)
    assert (sd.resolve_config(CureConfig(fd_blend=0.0)).fd_blend, sd.resolve_config(CureConfig(fd_blend=0.0)).fd_start) == (0.0, 0.2)
    assert (sd.resolve_config(CureConfig(fd_start=0.0)).fd_start, sd.resolve_config(CureConfig(fd_start=0.0)).fd_blend) == (0.0, 1.0)
    assert CureConfig().fd_start is None and CureConfig().fd_blend is None  # left to the model


def test_flux_schnell_takes_4_steps_and_says_a_given_guidance_is_ignored(flux_cure, photo):
    cure = flux_cure("flux-schnell")
    assert cure.resolve_config().steps == 4

    result = cure.cure(photo(64, 64), "a woman with black hair", CureConfig(working_size=64, guidance=5.0))
    assert result.config.steps == 4 and result.stats.evaluations["foundation"] == 4
    assert any("FLUX.1-schnell has no guidance input" in warning for warning in result.warnings)


def test_stable_diffusion_keeps_50_steps_at_7_5(load_tiny):
    # A photo on SD 1.x: the foundation branch from its inverted noise at 4, the photo branch at 7.5.
    # SDXL keeps one guidance; a generation (photo=False) and a guidance the user gives set both branches.
    for kind, photo_fd in (("sd", 4.0), ("sdxl", 7.5)):
        cure = FreeCure(load_tiny(kind), parser=FixedRegionParser(HAIR_ON_TOP))
        resolved = cure.resolve_config()
        assert (resolved.steps, resolved.guidance, resolved.photo_guidance, resolved.true_cfg) == (50, photo_fd, 7.5, None)
        generation = cure.resolve_config(photo=False)
        assert (generation.guidance, generation.photo_guidance) == (7.5, 7.5)
        given = cure.resolve_config(CureConfig(guidance=6.0))
        assert (given.guidance, given.photo_guidance) == (6.0, 6.0)
        fresh = cure.resolve_config(CureConfig(fd_noise="fresh"))
        assert (fresh.guidance, fresh.photo_guidance) == (7.5, 7.5)
        kept = cure.resolve_config(CureConfig(pd_guidance=1.0))
        assert (kept.guidance, kept.photo_guidance) == (photo_fd, 1.0)


def test_explain_names_the_settings_a_flux_model_would_use(tiny_model_folder):
    # SD has real CFG, so true CFG is not one of the settings it takes from the model.
    flux_settings = ["steps", "guidance", "true_cfg"]
    # On the CPU, as `fix` does there: at most 20 steps unless --steps is given (FLUX.1-dev's 28 and
    # SD's 50 become 20; schnell's 4 stay 4), with the note `fix` prints.
    for kind, steps, guidance_used, from_model in (("flux", 20, True, flux_settings),
                                                   ("flux-schnell", 4, False, flux_settings),
                                                   ("sd", 20, True, ["steps", "guidance"])):
        result = run_cli(["explain", "--prompt", "a man with red hair", "--model", tiny_model_folder(kind, "random"),
                          "--device", "cpu", "--json"])
        assert result.exit_code == 0, result.stderr
        settings = json.loads(result.stdout)["settings"]
        assert (settings["steps"], settings["guidance_used"]) == (steps, guidance_used)
        assert settings["from_model"] == from_model and settings["device"] == "cpu"
        assert any("at most --steps 20" in note for note in settings["notes"])
    text = run_cli(["explain", "--prompt", "a man", "--model", tiny_model_folder("flux", "random"),
                    "--steps", "9"]).stdout
    assert "settings:  9 steps, guidance 3.5" in text and "FLUX.1-dev's defaults" in text


def _removal(cure, photo, true_cfg):
    config = CureConfig(steps=4, working_size=64, true_cfg=true_cfg)
    return cure.cure(photo(64, 64), REMOVAL, config), config


def test_a_removal_on_flux_guides_the_foundation_against_its_negative_prompt(flux_cure, photo):
    cure = flux_cure(regions=GLASSES)
    guided, guided_config = _removal(cure, photo, 3.0)
    plain, plain_config = _removal(cure, photo, 1.0)

    assert np.abs(np.asarray(guided.fd_image, float) - np.asarray(plain.fd_image, float)).mean() > 1.0
    # One more evaluation per foundation step, and the estimate counts it as the cure spends it.
    assert guided.stats.evaluations["foundation"] == 2 * plain.stats.evaluations["foundation"] == 8
    parsed = parse_prompt(REMOVAL)
    for result, config in ((guided, guided_config), (plain, plain_config)):
        estimate = expected_evaluations(cure.resolve_config(config), parsed, guidance_rows=False).evaluations
        # (the second cure reuses the photo's inversion, so only the passes after it are compared)
        assert [estimate[k] for k in ("foundation", "fasa")] == [result.stats.evaluations[k] for k in ("foundation", "fasa")]
    # Off, the removal does nothing, and the result says so.
    assert any("true_cfg 1 turns off" in warning for warning in plain.warnings)
    assert not any("true_cfg" in warning for warning in guided.warnings)


def test_a_prompt_without_a_removal_is_one_row_whatever_true_cfg(flux_cure, photo):
    cure = flux_cure()
    config = CureConfig(steps=3, working_size=64)
    one = cure.cure(photo(64, 64), "a man with red hair", config.with_changes(true_cfg=3.0))
    other = cure.cure(photo(64, 64), "a man with red hair", config.with_changes(true_cfg=1.0))

    assert one.stats.evaluations["foundation"] == 3
    assert np.asarray(one.fd_image).tolist() == np.asarray(other.fd_image).tolist()


def _fasa_calls(monkeypatch):
    """(step, FASA's rows, batch rows) of every joint-attention call FASA handles."""
    from freecure_edit.attention.flux_controller import FluxAttentionController

    calls = []
    original = FluxAttentionController._fasa

    def spy(self, call, policy):
        calls.append((self.step, tuple(policy.pd_rows), call.query.shape[0]))
        return original(self, call, policy)

    monkeypatch.setattr(FluxAttentionController, "_fasa", spy)
    return calls


def test_apg_on_flux_guides_a_removal_against_its_negative_prompt_and_fasa_reads_the_prompt_row(
        flux_cure, photo, monkeypatch):
    cure = flux_cure(regions=GLASSES)
    prompt = "a man without glasses, smiling"  # the smile is abstract: APG runs
    config = CureConfig(steps=4, working_size=64, true_cfg=3.0, apg="branch", gamma=0.5)
    calls = _fasa_calls(monkeypatch)
    guided = cure.cure(photo(64, 64), prompt, config)
    plain = cure.cure(photo(64, 64), prompt, config.with_changes(true_cfg=1.0))

    resolved = cure.resolve_config(config)
    estimate = expected_evaluations(resolved, parse_prompt(prompt), guidance_rows=False).evaluations
    assert [estimate[k] for k in ("foundation", "fasa")] == [guided.stats.evaluations[k] for k in ("foundation", "fasa")]
    # Steps 2 and 3 branch: two rows each, so 2 more evaluations than without true CFG.
    assert guided.stats.evaluations["fasa"] == plain.stats.evaluations["fasa"] + 2
    first_cure = calls[:len(calls) // 2]
    assert {(rows, batch) for step, rows, batch in first_cure if step >= 2} == {((1,), 2)}
    assert {(rows, batch) for step, rows, batch in first_cure if step < 2} == {((0,), 1)}
    assert np.abs(np.asarray(guided.image, float) - np.asarray(plain.image, float)).mean() > 0.5
