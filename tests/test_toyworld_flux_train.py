"""The toy FLUX's training command runs end to end (a handful of steps on the committed toy SD's
autoencoder and CLIP) and writes a FluxPipeline folder that loads and cures like any FLUX folder."""

from __future__ import annotations

import hashlib
import json

import numpy as np
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
    # Through JSON as the manifest was written: the guidance interval's tuple reads back as a list.
    assert manifest["settings"] == json.loads(json.dumps(vars(train_flux.QUICK)))
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
    assert manifest["guidance_interval"] == list(train_flux.GUIDANCE_INTERVAL)


def test_distillation_from_a_teacher_folder_skips_the_teacher_and_records_it(quick_flux, tmp_path):
    out = tmp_path / "student"
    assert train_flux.main([str(out), "--quick", "--teacher", str(quick_flux)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    teacher = json.loads((quick_flux / "manifest.json").read_text())
    assert "transformer" not in manifest["seconds"] and "distillation" in manifest["seconds"]
    assert manifest["teacher"]["files"] == teacher["files"]
    assert manifest["settings"]["steps"] == 0  # no teacher steps ran in this command


def test_a_teacher_folder_from_another_autoencoder_or_clip_or_without_a_manifest_is_refused(quick_flux, tmp_path,
                                                                                           capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(quick_flux, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["sd_vae_sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert train_flux.main([str(tmp_path / "a"), "--quick", "--teacher", str(other)]) == 3
    assert "autoencoder" in capsys.readouterr().err
    manifest["sd_vae_sha256"] = json.loads((quick_flux / "manifest.json").read_text())["sd_vae_sha256"]
    manifest["sd_text_encoder_sha256"] = "0" * 64
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert train_flux.main([str(tmp_path / "c"), "--quick", "--teacher", str(other)]) == 3
    assert "text encoder" in capsys.readouterr().err
    (other / "manifest.json").unlink()
    assert train_flux.main([str(tmp_path / "b"), "--quick", "--teacher", str(other)]) == 3
    assert "manifest" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c", "b.partial"))


def test_the_quick_toy_flux_carries_the_toy_sds_current_autoencoder_and_clip_and_records_them(quick_flux):
    from dataclasses import asdict

    from freecure_edit.toyworld.assets import model_dir
    from freecure_edit.toyworld.captions import SD_RULES
    from freecure_edit.toyworld.gates import same_weights

    manifest = json.loads((quick_flux / "manifest.json").read_text())
    sd = model_dir("sd")
    for weights, key in (("vae/diffusion_pytorch_model.safetensors", "sd_vae_sha256"),
                         ("text_encoder/model.safetensors", "sd_text_encoder_sha256")):
        assert manifest[key] == hashlib.sha256((sd / weights).read_bytes()).hexdigest()
        assert same_weights(quick_flux / weights, sd / weights), f"{weights} is not the toy SD's"
    assert manifest["caption_rules"] == asdict(SD_RULES)


def test_the_caption_bank_draws_partial_captions_by_the_toy_sds_rules():
    from freecure_edit.toyworld.data import drawing_set
    from freecure_edit.toyworld.judges import asked_attributes

    specs = drawing_set(200, 0).specs
    bank = train_flux.caption_bank(specs, 8, seed=0)
    assert [len(row) for row in bank] == [8] * len(specs)
    assert bank == train_flux.caption_bank(specs, 8, seed=0), "the same seed draws the same bank"
    for spec, row in zip(specs, bank):
        for caption in row:
            asked = asked_attributes(caption)
            assert all(getattr(spec, family) == value for family, value in asked.items()), (spec, caption)
            for family, default in (("glasses", "none"), ("hat", "none"), ("expression", "neutral")):
                if getattr(spec, family) != default:
                    assert asked.get(family) == getattr(spec, family), f"{caption!r} leaves out {family}"
    assert sum(len(set(row)) > 1 for row in bank) > 0.9 * len(bank), "a drawing's captions should vary"
    # SD_RULES name the hair colour with p 0.85 (captions.RULES: 0.7); 1600 draws put the share within
    # about 0.03 of it.
    named = np.mean([spec.hair_colour in caption for spec, row in zip(specs, bank) for caption in row])
    assert abs(named - 0.85) < 0.04, f"hair colour named in {named:.3f} of the captions"


class _IndexEncoder:
    """Stands in for FluxPipeline.encode_prompt: caption "i/k" encodes to the number 100 i + k (in both
    outputs), "" to -1, so a batch's text inputs say which drawing and which caption they came from."""

    @staticmethod
    def encode_prompt(prompt, **_):
        import torch

        codes = torch.tensor([100.0 * int(p.split("/")[0]) + int(p.split("/")[1]) if p else -1.0 for p in prompt])
        return codes[:, None, None].expand(-1, 3, 2).clone(), codes[:, None].clone(), None


def test_batches_pick_one_of_each_drawings_own_captions_at_random_and_drop_a_tenth():
    import torch

    drawings, per_drawing = 12, 4
    latents = torch.arange(drawings, dtype=torch.float32)[:, None, None, None].expand(-1, 4, 16, 16).clone()
    bank = [[f"{i}/{k}" for k in range(per_drawing)] for i in range(drawings)]
    batches = train_flux._Batches(_IndexEncoder(), latents, bank)
    generator = torch.Generator().manual_seed(0)
    pairs, dropped, total = set(), 0, 0
    for _ in range(20):
        sequence, pooled, clean, _, _ = batches.draw(64, generator)
        assert torch.equal(sequence[:, 0, 0], pooled[:, 0]), "the sequence and the pooled embedding of one caption"
        for code, drawing in zip(pooled[:, 0].tolist(), clean[:, 0, 0, 0].tolist()):
            total += 1
            if code == -1:
                dropped += 1
                continue
            assert int(code) // 100 == int(drawing), "a caption of another drawing"
            pairs.add((int(drawing), int(code) % 100))
    assert pairs == {(i, k) for i in range(drawings) for k in range(per_drawing)}, "every caption gets picked"
    assert abs(dropped / total - train_flux.CAPTION_DROPOUT) < 0.04


def test_a_caption_bank_with_rows_of_different_lengths_is_refused():
    import torch

    with pytest.raises(ValueError, match="same number of captions"):
        train_flux._Batches(_IndexEncoder(), torch.zeros(2, 4, 16, 16), [["0/0", "0/1"], ["1/0"]])


def test_the_distillation_target_is_guided_inside_the_noise_interval_and_conditional_outside():
    import torch

    generator = torch.Generator().manual_seed(0)
    conditional, unconditional = torch.randn(2, 4, 8, 16, generator=generator)
    sigma = torch.tensor([0.05, 0.1, 0.5, 0.9])
    guidance = torch.tensor([5.0, 3.0, 6.0, 2.0])
    guided = unconditional + guidance[:, None, None] * (conditional - unconditional)
    target = train_flux.guided_target(conditional, unconditional, guidance, sigma, (0.1, 0.7))
    assert torch.allclose(target[1:3], guided[1:3])  # inside, the interval's ends included
    assert torch.allclose(target[[0, 3]], conditional[[0, 3]])  # below and above it
    everywhere = train_flux.guided_target(conditional, unconditional, guidance, sigma, None)
    assert torch.allclose(everywhere, guided)


def test_the_guidance_interval_is_chosen_on_the_command_line_and_checked(tmp_path, capsys):
    import torch

    assert train_flux.main([str(tmp_path / "bad"), "--quick", "--guidance-interval", "0.7", "0.1"]) == 2
    assert "LOW < HIGH" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    for flags, expected in ((["--guidance-interval", "0.2", "0.6"], [0.2, 0.6]), (["--guidance-everywhere"], None)):
        out = tmp_path / f"flux{len(flags)}"
        threads = torch.get_num_threads()
        try:
            assert train_flux.main([str(out), "--quick", "--threads", "1", *flags]) == 0
        finally:
            torch.set_num_threads(threads)
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["guidance_interval"] == expected
        assert manifest["settings"]["guidance_interval"] == expected


@pytest.mark.parametrize("flags, code, words", [
    (["--steps", "-3"], 2, "--steps must be at least 1"),
    (["--steps", "0"], 2, "--steps must be at least 1"),
    (["--distill-steps", "-2"], 2, "--distill-steps must be at least 0"),
    (["--distill-steps", "0", "--guidance-everywhere"], 2, "apply to the distillation"),
    (["--distill-steps", "0", "--guidance-interval", "0.1", "0.7"], 2, "apply to the distillation"),
    (["--teacher", "{tmp}/nowhere"], 3, "is not a folder"),
    (["--teacher", "{tmp}/manifest-only"], 3, "no transformer weights"),
    (["--teacher", "{tmp}/manifest-only", "--distill-steps", "0"], 2, "would train nothing"),
])
def test_arguments_that_would_train_nothing_or_a_lie_are_refused_before_loading(tmp_path, capsys, flags, code,
                                                                               words):
    (tmp_path / "manifest-only").mkdir()
    (tmp_path / "manifest-only" / "manifest.json").write_text("{}")
    flags = [flag.format(tmp=tmp_path) for flag in flags]
    assert train_flux.main([str(tmp_path / "out"), "--quick", *flags]) == code
    error = capsys.readouterr().err
    assert words in error and error.count("\n") == 1, error
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_a_folder_with_the_staging_name_is_never_deleted(tmp_path, capsys):
    mine = tmp_path / "flux.partial"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert train_flux.main([str(tmp_path / "flux"), "--quick"]) == 2
    assert "flux.partial exists" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "mine" and not (tmp_path / "flux").exists()
