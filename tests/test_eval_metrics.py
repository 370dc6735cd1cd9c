"""The eval's metrics, prompts and tables: each metric loaded from disk through its real loading code,
checked against properties that hold for any weights."""

from __future__ import annotations

import json
import math

import numpy as np
import PIL.Image
import pytest
import torch

from conftest import random_photo
from eval_fixtures import lpips_torch_home, tiny_clip  # noqa: F401  (fixtures)
from face_fixtures import ASTRONAUT_FACE, face_packs, load_analyzer  # noqa: F401  (fixtures)
from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.evaluation import PAPER_PROMPTS, Sample, harmonic_mean, load_metric, load_prompts, table1
from freecure_edit.evaluation.metrics.psnr import PSNR_CAP, psnr_outside


# -- CLIP-T ------------------------------------------------------------------------------------------

def test_clip_pc_is_the_cosine_of_transformers_own_clip_embeddings(tiny_clip):
    from transformers import CLIPModel, CLIPProcessor

    metric = load_metric("clip", clip_model=str(tiny_clip))
    photo, output = random_photo(64, 64, 0), random_photo(48, 80, 1)
    prompt = "a woman with black curly hair"
    model, processor = CLIPModel.from_pretrained(tiny_clip), CLIPProcessor.from_pretrained(tiny_clip)
    with torch.no_grad():
        outputs = model(**processor(text=[prompt], images=[output], return_tensors="pt", padding=True))
    expected = float(torch.nn.functional.cosine_similarity(outputs.image_embeds, outputs.text_embeds)[0])
    assert metric.score(Sample(photo, output, prompt))["pc"] == pytest.approx(expected, abs=1e-5)
    other = metric.score(Sample(photo, output, "a man wearing sunglasses"))["pc"]
    assert other != pytest.approx(expected, abs=1e-6)


def test_clip_missing_offline_is_a_missing_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="--clip-model"):
        load_metric("clip", clip_model=str(tmp_path / "no-clip"))


# -- ArcFace -----------------------------------------------------------------------------------------

def test_arcface_if_is_one_for_the_input_itself_and_lower_for_another_photo(face_packs):
    metric = load_metric("arcface", face_pack="buffalo_l", face_root=str(face_packs.root / "models"),
                         providers=["CPUExecutionProvider"])
    photo = random_photo(64, 64, 0)
    face = metric.locate_face(photo)
    assert face is not None
    assert metric.score(Sample(photo, photo.copy(), "x", face))["if"] == pytest.approx(1.0, abs=1e-6)
    assert metric.score(Sample(photo, random_photo(64, 64, 5), "x", face))["if"] < 0.99
    sample = Sample(photo, photo, "x", None)
    assert metric.score(sample)["if"] is None and sample.warnings


def test_arcface_without_the_pack_is_a_missing_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="antelopev2"):
        load_metric("arcface", face_root=str(tmp_path))


# -- LPIPS -------------------------------------------------------------------------------------------

def test_lpips_reads_its_backbone_from_the_torch_cache(lpips_torch_home, monkeypatch):
    from freecure_edit.evaluation.metrics.lpips import backbone_file

    monkeypatch.setenv("TORCH_HOME", str(lpips_torch_home))
    metric = load_metric("lpips")
    saved = torch.load(backbone_file("alex")[1], weights_only=True)
    assert torch.equal(metric.model.net.slice1[0].weight, saved["features.0.weight"])
    assert torch.equal(getattr(metric.model.net.slice5, "10").weight, saved["features.10.weight"])
    a, b = random_photo(64, 64, 0), random_photo(64, 64, 1)
    assert metric.score(Sample(a, a.copy(), "x"))["lpips_to_input"] == pytest.approx(0.0, abs=1e-6)
    assert metric.distance(a, b) == pytest.approx(metric.distance(b, a), rel=1e-5)
    assert metric.distance(a, b) > 0


def test_lpips_without_the_backbone_file_is_a_missing_model(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="alexnet-owt"):
        load_metric("lpips")


# -- PSNR outside the mask ---------------------------------------------------------------------------

def test_psnr_outside_the_mask_ignores_changes_inside_it():
    photo = random_photo(40, 40, 0)
    pixels = np.asarray(photo).copy()
    mask = torch.zeros(40, 40)
    mask[:20] = 1.0
    pixels[:20] = 0  # changed only inside the mask
    inside_only = PIL.Image.fromarray(pixels)
    assert psnr_outside(photo, inside_only, mask) == PSNR_CAP
    assert psnr_outside(photo, inside_only, None) < 30
    shifted = np.asarray(photo).astype(np.int16)
    shifted[20:] = np.clip(shifted[20:] + 4, 0, 255)
    changed = PIL.Image.fromarray(shifted.astype(np.uint8))
    error = ((shifted[20:] - np.asarray(photo)[20:].astype(np.int16)) ** 2).mean()
    assert psnr_outside(photo, changed, mask) == pytest.approx(10 * math.log10(255**2 / error))
    assert psnr_outside(photo, photo, torch.ones(40, 40)) is None


# -- names, prompts, tables -------------------------------------------------------------------------

def test_unknown_metric_and_missing_toy_world(monkeypatch):
    with pytest.raises(ConfigurationError, match="unknown metric"):
        load_metric("fid")
    try:
        import freecure_edit.toyworld.judges  # noqa: F401
    except ImportError:
        with pytest.raises(ModelNotFoundError, match="toy world"):
            load_metric("toy")


def test_paper_prompts_default_with_the_subject_and_their_attribute_counts():
    prompts = load_prompts(subject="woman")
    assert len(PAPER_PROMPTS) == len(prompts) == 20
    assert [p.attribute_count for p in prompts].count(1) == 8
    assert [p.attribute_count for p in prompts].count(2) == 8
    assert [p.attribute_count for p in prompts].count(3) == 4
    assert all("<S>" not in p.text and " woman " in p.text for p in prompts)
    assert len({p.id for p in prompts}) == 20


def test_prompt_files(tmp_path):
    csv_file = tmp_path / "p.csv"
    csv_file.write_text('file,prompt\na.jpg,"a <S> with red hair, smiling"\nb.jpg,\nc.jpg,"a <S> with red hair, smiling"\n')
    prompts = load_prompts(csv_file, subject="man")
    assert [(p.text, p.attribute_count) for p in prompts] == [("a man with red hair, smiling", 2)]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "a <S> wearing sunglasses"}\n\n{"other": 1}\n')
    assert [p.text for p in load_prompts(jsonl)] == ["a person wearing sunglasses"]
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("prompt\na <S> with red hair, smiling\n")
    with pytest.raises(ConfigurationError, match="line 2: more cells"):
        load_prompts(ragged)
    empty = tmp_path / "empty.csv"
    empty.write_text("file,note\na.jpg,x\n")
    with pytest.raises(ConfigurationError, match="no usable prompt"):
        load_prompts(empty)


def _line(method, pc, identity, **extra):
    return {"model": "m", "photo": "p", "prompt": "q", "method": method, "seed": 0, "pc": pc, "if": identity, **extra}


def test_table1_means_harmonic_mean_and_deltas_against_the_input():
    lines = [_line("input", 0.20, 1.0), _line("input", 0.22, 1.0), _line("cure", 0.30, 0.8), _line("cure", 0.26, 0.7)]
    rows = table1(lines, ["input", "cure"])["m"]
    assert rows["cure"]["pc"] == pytest.approx(0.28)
    assert rows["cure"]["hmean"] == pytest.approx(2 * 0.28 * 0.75 / (0.28 + 0.75))
    assert rows["cure"]["delta_pc"] == pytest.approx(0.28 - 0.21)
    assert rows["cure"]["delta_if"] == pytest.approx(0.75 - 1.0)
    assert rows["input"]["delta_hmean"] == 0.0
    assert harmonic_mean(-0.1, 0.9) is None


def test_face_diversity_is_the_mean_over_all_pairs_of_seeds():
    # Three seeds, pairwise distances d01 = 0.1, d02 = 0.3, d12 = 0.5: seed 1 holds mean(d01), seed 2
    # mean(d02, d12); the table must give the mean over the three pairs, 0.3.
    lines = [_line("cure", 0.3, 0.8, face_diversity=None, face_diversity_pairs=0),
             _line("cure", 0.3, 0.8, face_diversity=0.1, face_diversity_pairs=1),
             _line("cure", 0.3, 0.8, face_diversity=0.4, face_diversity_pairs=2)]
    assert table1(lines, ["cure"])["m"]["cure"]["face_diversity"] == pytest.approx(0.3)


def test_results_log_skips_torn_lines_keeps_the_latest_of_a_key_and_appends_on_a_line_of_its_own(tmp_path):
    from freecure_edit.evaluation.results import RESULTS_NAME, ResultsLog, read_results

    first = {"model": "m", "photo": "p", "prompt": "q", "method": "cure", "seed": 0, "pc": 0.1}
    again = dict(first, pc=0.2)
    path = tmp_path / RESULTS_NAME
    path.write_text(json.dumps(first) + "\n" + json.dumps(again) + "\n" + '{"model": "m", "pho')
    log = ResultsLog(tmp_path)
    assert list(log.lines.values()) == [again] and log.done(("m", "p", "q", "cure", 0))
    assert not log.done(("m", "p", "q", "cure", 1))
    log.append(dict(first, seed=1))
    log.close()
    lines = read_results(path)
    assert len(lines) == 2 and lines[("m", "p", "q", "cure", 1)]["seed"] == 1
    assert path.read_text().count("\n") == 3  # the torn tail is gone, not glued to the new line


def test_resume_redoes_a_result_made_under_other_settings_and_keeps_one_made_under_the_same(tmp_path):
    from pathlib import Path

    from freecure_edit.evaluation.results import ResultsLog
    from freecure_edit.evaluation.settings import EvalSettings

    base = EvalSettings(input=Path("in"), output=Path("out"), steps=20, cure={"omega": 1.0})
    same = EvalSettings(input=Path("elsewhere"), output=Path("other"), steps=20, cure={"omega": 1.0}, resume=True)
    assert base.fingerprint() == same.fingerprint(), "where files live and how the run was asked must not count"
    for changed in (EvalSettings(input=Path("in"), output=Path("out"), steps=30, cure={"omega": 1.0}),
                    EvalSettings(input=Path("in"), output=Path("out"), steps=20, cure={"omega": 2.0}),
                    EvalSettings(input=Path("in"), output=Path("out"), steps=20, cure={"omega": 1.0},
                                 guidance=5.0)):
        assert changed.fingerprint() != base.fingerprint()

    key = ("m", "p", "q", "cure", 0)
    log = ResultsLog(tmp_path)
    log.append({"model": "m", "photo": "p", "prompt": "q", "method": "cure", "seed": 0,
                "settings_hash": base.fingerprint()})
    log.close()
    again = ResultsLog(tmp_path)
    assert again.done(key, same.fingerprint())
    assert not again.done(key, EvalSettings(input=Path("in"), output=Path("out"), steps=30).fingerprint())
    again.close()


def test_a_second_model_missing_offline_is_refused_before_anything_loads_or_is_written(tmp_path, monkeypatch):
    from pathlib import Path

    from freecure_edit.evaluation import run_eval
    from freecure_edit.evaluation.settings import EvalSettings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    photos = tmp_path / "photos"
    photos.mkdir()
    random_photo(64, 64, 3).save(photos / "a.png")
    output = tmp_path / "out"
    settings = EvalSettings(input=photos, output=output, prompts=("a woman with red hair",), metrics=("psnr",),
                            methods=("input",), models=(str(Path(tmp_path / "first-model-folder")), "nobody/no-such-model"))
    (tmp_path / "first-model-folder").mkdir()
    with pytest.raises(ModelNotFoundError, match="nobody/no-such-model"):
        run_eval(settings)
    assert not output.exists()


def test_every_missing_metric_model_is_named_at_once_and_nothing_is_written(tmp_path):
    from cli_fixtures import assert_one_line_error, run_cli, write_photo

    photos = tmp_path / "photos"
    photos.mkdir()
    write_photo(photos / "a.png")
    output = tmp_path / "eval"
    result = run_cli(["eval", photos, "-o", output, "--metrics", "clip,arcface", "--clip-model", tmp_path / "no-clip",
                      "--face-root", tmp_path / "no-pack", "--model", tmp_path / "no-model"])
    line = assert_one_line_error(result, 4)
    assert "4 models are missing" in line and "no-model" in line and "no-clip" in line and "antelopev2" in line
    assert "jonathandinu/face-parsing" in line  # the parser too (issue 29 D17)
    assert not output.exists()
