"""The toy FLUX's training command runs end to end (a handful of steps on the committed toy SD's
autoencoder and CLIP) and writes a FluxPipeline folder that loads and cures like any FLUX folder."""

from __future__ import annotations

import hashlib
import json

import pytest

from freecure_edit.toyworld import train_flux
from freecure_edit.toyworld.world import PortraitSpec, draw, prompt_for


def test_flux_training_refuses_an_existing_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert train_flux.main([str(tmp_path), "--quick"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def quick_flux(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy-flux") / "flux"
    assert train_flux.main([str(out), "--quick", "--threads", "1"]) == 0
    return out


def test_quick_flux_training_writes_a_flux_folder_and_a_manifest_with_hashes(quick_flux):
    manifest = json.loads((quick_flux / "manifest.json").read_text())
    assert manifest["settings"] == vars(train_flux.QUICK)
    assert {"torch", "diffusers", "transformers"} <= set(manifest["versions"])
    assert not quick_flux.with_name("flux.partial").exists()
    for relative, digest in manifest["files"].items():
        assert hashlib.sha256((quick_flux / relative).read_bytes()).hexdigest() == digest
    assert any(name.startswith("transformer/") and name.endswith(".safetensors") for name in manifest["files"])
    config = json.loads((quick_flux / "transformer" / "config.json").read_text())
    vae = json.loads((quick_flux / "vae" / "config.json").read_text())
    assert config["in_channels"] == 4 * vae["latent_channels"] and vae["shift_factor"] == 0.0


def test_the_quick_toy_flux_loads_as_flux_and_cures_a_drawing(quick_flux):
    from freecure_edit import CureConfig, FreeCure
    from freecure_edit.toyworld.assets import model_dir

    cure = FreeCure.from_pretrained(str(quick_flux), parser="segformer", parser_model=str(model_dir("parser")),
                                    device="cpu", detector=None)
    assert cure.backbone.kind == "flux" and cure.backbone.model_defaults.name == "FLUX.1-dev"
    spec = PortraitSpec(identity=2, hair_colour="black")
    drawing = draw(spec, 7)
    result = cure.cure(drawing.image, prompt_for(spec.with_changes(hair_colour="red"), ["hair_colour"]),
                       CureConfig(steps=2, working_size=64))
    assert result.image.size == drawing.image.size and result.stats.evaluations["foundation"] == 2


def test_quick_training_runs_both_phases_teacher_then_guidance_distillation(quick_flux):
    manifest = json.loads((quick_flux / "manifest.json").read_text())
    assert {"transformer", "distillation"} <= set(manifest["seconds"]) and manifest["teacher"] is None
    assert manifest["guidance_range"] == list(train_flux.GUIDANCE_RANGE)


def test_distillation_from_a_teacher_folder_skips_the_teacher_and_records_it(quick_flux, tmp_path):
    out = tmp_path / "student"
    assert train_flux.main([str(out), "--quick", "--teacher", str(quick_flux)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    teacher = json.loads((quick_flux / "manifest.json").read_text())
    assert "transformer" not in manifest["seconds"] and "distillation" in manifest["seconds"]
    assert manifest["teacher"]["files"] == teacher["files"]


def test_a_teacher_folder_from_another_autoencoder_or_without_a_manifest_is_refused(quick_flux, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(quick_flux, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["sd_vae_sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert train_flux.main([str(tmp_path / "a"), "--quick", "--teacher", str(other)]) == 3
    assert "autoencoder" in capsys.readouterr().err
    (other / "manifest.json").unlink()
    assert train_flux.main([str(tmp_path / "b"), "--quick", "--teacher", str(other)]) == 3
    assert "manifest" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists() and not (tmp_path / "b.partial").exists()
