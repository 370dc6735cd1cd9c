"""`freecure-edit eval` end to end on tiny models loaded from disk: the files it writes, --json,
--resume after a kill, and the refusals of bad input (one line, exit code, nothing written)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_fixtures import assert_one_line_error, cli_models, run_cli, write_photo  # noqa: F401  (fixtures)
from eval_fixtures import lpips_torch_home, tiny_clip  # noqa: F401
from face_fixtures import ASTRONAUT_FACE, write_pack
from freecure_edit.evaluation.results import KEY_FIELDS, read_results

METHODS = ("input", "fd", "cure", "img2img")
PROMPTS = ("a <S> with black curly hair", "a <S> wearing sunglasses, laughing happily")
SEEDS = "0,1"
CELLS = 2 * len(PROMPTS) * len(METHODS) * 2


@pytest.fixture(scope="module")
def eval_setup(cli_models, tiny_clip, lpips_torch_home, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    photos = root / "photos"
    photos.mkdir()
    for seed in range(2):
        write_photo(photos / f"face{seed}.png", size=(64, 64), seed=seed)
    pack = write_pack(root / "pack" / "buffalo_l", [ASTRONAUT_FACE])
    args = ["--model", cli_models.sd, "--parser-model", cli_models.segformer, "--clip-model", tiny_clip,
            "--face-pack", "buffalo_l", "--face-root", pack.parent, "--device", "cpu", "--steps", "2",
            "--seeds", SEEDS, *[a for m in METHODS for a in ("-m", m)], *[a for p in PROMPTS for a in ("-p", p)]]
    return root, photos, args, {"TORCH_HOME": str(lpips_torch_home)}


@pytest.fixture(scope="module")
def finished(eval_setup):
    root, photos, args, env = eval_setup
    output = root / "out"
    result = run_cli(["eval", photos, "-o", output, *args], env=env)
    assert result.exit_code == 0, result.output
    return output, result


def _valid_lines(path: Path) -> list[dict]:
    lines = []
    for text in path.read_bytes().splitlines():
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError:
            pass
    return lines


def test_eval_writes_a_line_per_cell_the_summary_and_the_report(finished):
    output, result = finished
    lines = _valid_lines(output / "results.jsonl")
    assert len(lines) == CELLS
    assert len({tuple(line[k] for k in KEY_FIELDS) for line in lines}) == CELLS
    for line in lines:
        assert (output / line["image"]).is_file()
        assert line["attributes"] == (1 if "curly" in line["prompt"] else 2)
        assert "<S>" not in line["prompt"] and "person" in line["prompt"]
        assert {"pc", "if", "hmean", "lpips_to_input", "psnr_outside_mask", "face_diversity", "evaluations", "seconds",
                "peak_memory_bytes", "warnings"} <= set(line)
        assert line["pc"] is not None and line["if"] is not None
        if line["method"] == "input":
            assert line["if"] == pytest.approx(1.0) and line["evaluations"] == 0
            assert line["lpips_to_input"] == pytest.approx(0.0, abs=1e-6)
            # The tiny parser sees hair everywhere and no glasses: no pixel is outside the hair mask, every
            # pixel outside the (empty) sunglasses mask.
            assert line["psnr_outside_mask"] == (None if "hair" in line["prompt"] else 100.0)
        if line["seed"] == 1:
            assert line["face_diversity_pairs"] == 1 and line["face_diversity"] is not None
        if line["method"] in ("input", "cure", "fd") and line["seed"] == 1:
            assert line["face_diversity"] == pytest.approx(0.0, abs=1e-6)  # the same image for every seed
    summary = json.loads((output / "summary.json").read_text())
    rows = summary["table1"][summary["models"][0]]
    assert list(rows) == list(METHODS)
    assert rows["input"]["delta_pc"] == 0.0 and rows["input"]["count"] == CELLS // len(METHODS)
    for method in METHODS:
        mean_pc = sum(l["pc"] for l in lines if l["method"] == method) / (CELLS // len(METHODS))
        assert rows[method]["pc"] == pytest.approx(mean_pc)
        assert rows[method]["delta_pc"] == pytest.approx(rows[method]["pc"] - rows["input"]["pc"])
    assert set(summary["table2"][summary["models"][0]]) == {"1", "2"}
    assert rows["cure"]["evaluations"] > rows["fd"]["evaluations"] > rows["img2img"]["evaluations"] > 0
    report = (output / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2 and "masks.png" in report
    assert "cure" in result.stdout and "PC" in result.stdout


def test_json_prints_the_summary_only_and_resume_redoes_nothing_done(finished, eval_setup):
    root, photos, args, env = eval_setup
    output, _ = finished
    before = (output / "results.jsonl").read_bytes()
    result = run_cli(["eval", photos, "-o", output, *args, "--resume", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["results"] == summary["expected"] == CELLS
    assert (output / "results.jsonl").read_bytes() == before


def test_an_eval_killed_mid_run_resumes_without_counting_anything_twice(eval_setup):
    root, photos, args, env = eval_setup
    output = root / "killed"
    command = [sys.executable, "-m", "freecure_edit.cli", "eval", str(photos), "-o", str(output),
               *[str(a) for a in args]]
    log = root / "killed.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(command, env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    results = output / "results.jsonl"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if results.exists() and len(_valid_lines(results)) >= 5:
                break
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert results.exists(), log.read_text()
    kept = _valid_lines(results)
    assert 5 <= len(kept) < CELLS, "the run ended before it could be killed mid-way"
    with open(results, "ab") as stream:
        stream.write(b'{"model": "torn by the kil')  # what a kill in the middle of a write leaves
    result = run_cli(["eval", photos, "-o", output, *args, "--resume"], env=env)
    assert result.exit_code == 0, result.output
    lines = _valid_lines(results)
    keys = [tuple(line[k] for k in KEY_FIELDS) for line in lines]
    assert len(keys) == len(set(keys)) == CELLS
    assert lines[: len(kept)] == kept  # what was done before the kill is kept, not redone
    assert json.loads((output / "summary.json").read_text())["results"] == CELLS


def test_a_used_output_folder_needs_resume_or_overwrite(finished, eval_setup):
    root, photos, args, env = eval_setup
    output, _ = finished
    before = (output / "results.jsonl").read_bytes()
    result = run_cli(["eval", photos, "-o", output, *args], env=env)
    assert "--resume" in assert_one_line_error(result, 2)
    assert (output / "results.jsonl").read_bytes() == before


@pytest.mark.parametrize(("case", "code", "message"), [
    ("empty folder", 3, "holds no image"),
    ("prompt file without prompts", 2, "no usable prompt"),
    ("unknown metric", 2, "unknown metric 'fid'"),
    ("unknown method", 2, "unknown method 'sdedit'"),
    ("clip model missing", 4, "CLIP model"),
    ("lpips backbone missing", 4, "alexnet"),
    ("face pack missing", 4, "antelopev2"),
    ("diffusion model missing", 4, "does not exist"),
])
def test_bad_input_is_one_line_and_writes_nothing(eval_setup, tmp_path, case, code, message):
    root, photos, args, env = eval_setup
    args = list(args)
    source = photos
    if case == "empty folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif case == "prompt file without prompts":
        prompts = tmp_path / "prompts.csv"
        prompts.write_text("file,note\na.png,hello\n")
        args = [a for a in args if a not in PROMPTS and a != "-p"] + ["--prompts", prompts]
    elif case == "unknown metric":
        args += ["--metrics", "clip,fid"]
    elif case == "unknown method":
        args += ["-m", "sdedit"]
    elif case == "clip model missing":
        args[args.index("--clip-model") + 1] = tmp_path / "no-clip"
    elif case == "lpips backbone missing":
        env = {"TORCH_HOME": str(tmp_path / "empty-torch-home")}
    elif case == "face pack missing":
        args = args[: args.index("--face-pack")] + args[args.index("--face-root") + 2:]
        env = {**env, "INSIGHTFACE_HOME": str(tmp_path / "no-insightface")}
    elif case == "diffusion model missing":
        args[args.index("--model") + 1] = tmp_path / "no-model"
    output = tmp_path / "out"
    result = run_cli(["eval", source, "-o", output, *args], env=env)
    assert message in assert_one_line_error(result, code)
    assert not output.exists()


def test_the_commands_copies_of_the_library_defaults_agree():
    # The command repeats them so that --help imports no torch.
    from freecure_edit.cli import eval as command
    from freecure_edit.evaluation import DEFAULT_METHODS, DEFAULT_METRICS
    from freecure_edit.evaluation.settings import EvalSettings

    assert command.DEFAULT_METHODS == DEFAULT_METHODS
    assert tuple(command.DEFAULT_METRICS.split(",")) == DEFAULT_METRICS
    assert (command.DEFAULT_MODEL,) == EvalSettings(input=".", output=".").models


def test_eval_help_imports_no_heavy_library():
    script = (
        "import sys\nfrom freecure_edit.cli.app import cli\n"
        "try:\n    cli(['eval', '--help'], prog_name='freecure-edit')\nexcept SystemExit as exit:\n    code = exit.code\n"
        "print(code, sorted(m for m in ('torch', 'diffusers', 'transformers', 'lpips', 'matplotlib') if m in sys.modules))"
    )
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert finished.stdout.strip().splitlines()[-1] == "0 []", finished.stdout + finished.stderr
