"""The training command runs end to end (a handful of steps) and writes folders the project loads."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from freecure_edit.toyworld import train
from freecure_edit.toyworld.world import PortraitSpec, draw


def test_training_refuses_an_existing_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert train.main([str(tmp_path), "--quick"]) == 2
    assert "exists" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_a_folder_with_the_staging_name_is_never_deleted(tmp_path, capsys):
    mine = tmp_path / "weights.partial"
    mine.mkdir()
    (mine / "checkpoint.txt").write_text("a stopped run's")
    assert train.main([str(tmp_path / "weights"), "--quick"]) == 2
    assert "weights.partial exists" in capsys.readouterr().err
    assert (mine / "checkpoint.txt").read_text() == "a stopped run's" and not (tmp_path / "weights").exists()


def test_overwriting_replaces_the_sd_models_but_keeps_the_toy_flux(tmp_path):
    out = tmp_path / "weights"
    (out / "flux").mkdir(parents=True)
    (out / "flux" / "manifest.json").write_text("trained by train_flux")
    (out / "sd").mkdir()
    (out / "sd" / "stale.txt").write_text("old")
    assert train.main([str(out), "--quick", "--overwrite"]) == 0
    assert (out / "flux" / "manifest.json").read_text() == "trained by train_flux"
    assert not (out / "sd" / "stale.txt").exists() and (out / "sd" / "model_index.json").is_file()


def test_short_trains_the_30_minute_recipe_and_refuses_quick_beside_it(tmp_path, monkeypatch, capsys):
    chosen = []

    def record(out, settings, **kwargs):
        chosen.append(settings)
        out.mkdir(parents=True)
        return {"seconds": {"total_wall": 0.0}}

    monkeypatch.setattr(train, "train_all", record)
    assert train.main([str(tmp_path / "short"), "--short"]) == 0
    assert chosen == [train.SHORT] and train.SHORT != train.Settings()
    with pytest.raises(SystemExit):
        train.main([str(tmp_path / "both"), "--short", "--quick"])
    assert "not allowed with" in capsys.readouterr().err and not (tmp_path / "both").exists()


def test_sharp_is_the_partial_caption_recipe(tmp_path, monkeypatch):
    chosen = []

    def record(out, settings, **kwargs):
        chosen.append((settings, kwargs["keep_instruments"]))
        out.mkdir(parents=True)
        return {"seconds": {"total_wall": 0.0}}

    monkeypatch.setattr(train, "train_all", record)
    assert train.main([str(tmp_path / "sharp"), "--sharp"]) == 0
    assert chosen == [(train.SHARP, None)]
    assert train.SHARP.captions == "partial" and train.SHARP.vae_edge_weight > 0
    assert train.caption_rules(train.SHARP) is not None and train.caption_rules(train.SHORT) is None
    with pytest.raises(ValueError, match="captions"):
        train.caption_rules(train.Settings(captions="some"))


def test_generator_only_trains_sd_and_keeps_the_parser_and_judges_it_finds(tmp_path):
    out = tmp_path / "weights"
    for name in ("parser", "judges", "flux"):
        (out / name).mkdir(parents=True)
        (out / name / "kept.txt").write_text(name)
    (out / "manifest.json").write_text(json.dumps({"command": "before", "seconds": {"parser": 1.0, "vae": 2.0}}))
    assert train.main([str(out), "--quick", "--overwrite", "--generator-only"]) == 0
    for name in ("parser", "judges", "flux"):
        assert (out / name / "kept.txt").read_text() == name
    assert (out / "sd" / "unet").is_dir()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kept"]["models"] == ["parser", "judges"] and manifest["kept"]["command"] == "before"
    assert manifest["kept"]["seconds"] == {"parser": 1.0}
    assert "parser/kept.txt" in manifest["files"] and "parser" not in manifest["seconds"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="parser"):
        train.train_all(tmp_path / "other", train.QUICK, gates=False, keep_instruments=empty)


@pytest.fixture(scope="module")
def quick_models(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy") / "models"
    assert train.main([str(out), "--quick"]) == 0
    return out


def test_quick_training_writes_every_model_and_a_manifest_with_hashes(quick_models):
    manifest = json.loads((quick_models / "manifest.json").read_text())
    assert manifest["settings"] == vars(train.QUICK) or manifest["settings"]["unet_steps"] == train.QUICK.unet_steps
    assert set(manifest["seeds"]) >= {"vae", "unet", "parser", "attribute_judge", "identity_judge"}
    assert {"torch", "diffusers", "transformers"} <= set(manifest["versions"])
    assert {"vae", "unet_and_text_encoder", "parser", "attribute_judge", "identity_judge"} <= set(manifest["seconds"])
    assert not (quick_models / ".work").exists() and not quick_models.with_name("models.partial").exists()
    for relative, digest in manifest["files"].items():
        assert hashlib.sha256((quick_models / relative).read_bytes()).hexdigest() == digest
    weights = [name for name in manifest["files"] if name.endswith(".safetensors")]
    assert any(name.startswith("sd/unet/") for name in weights) and any(name.startswith("parser/") for name in weights)


def test_quick_models_load_through_the_project_loaders(quick_models):
    from freecure_edit.models.loading import load_pipeline
    from freecure_edit.masks import load_parser
    from freecure_edit.toyworld.judges import load_judges

    pipe = load_pipeline(str(quick_models / "sd"), device="cpu")
    assert pipe.unet.dtype.is_floating_point and pipe.vae.config.scaling_factor > 0
    assert pipe.vae_scale_factor == 4 and pipe.unet.config.sample_size == 16
    parser = load_parser("segformer", str(quick_models / "parser"), device="cpu")
    assert {"hair", "eye_g", "skin", "hat", "mouth"} <= set(parser.labels)
    maps = parser.parse(draw(PortraitSpec(identity=0), seed=0).image)
    assert maps["hair"].shape == (64, 64)
    judges = load_judges(quick_models / "judges")
    images = [draw(PortraitSpec(identity=i), seed=i).image for i in range(3)]
    assert len(judges.attributes(images)) == 3
    embeddings = judges.identity_embeddings(images)
    assert embeddings.shape[0] == 3 and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
