"""The parts of a batch that need no model: choosing the files, naming the outputs, reading prompts
files and their settings, merging manifest shards, the exit code, and rebuilding the command line
for the processes --num-processes starts."""

from __future__ import annotations

import json

import PIL.Image
import pytest

from batch_fixtures import photo_folder
from freecure_edit.batch.folder import BatchFolder
from freecure_edit.batch.layout import plan_outputs
from freecure_edit.batch.manifest import ShardWriter, collect, merge_shards, read_lines
from freecure_edit.batch.selection import select_inputs
from freecure_edit.cli.app import cli
from freecure_edit.cli.batch.relaunch import command_line
from freecure_edit.overrides import read_overrides
from freecure_edit.cli.batch.command import build_plan
from freecure_edit.batch.outcome import batch_exit_code
from freecure_edit.cli.config_options import explicitly_given
from freecure_edit.errors import ConfigurationError


def test_selection_takes_images_in_name_order_and_leaves_out_hidden_files_and_the_output(tmp_path):
    photo_folder(tmp_path, ["b.png", "a.JPG", "sub/c.png", "sub/.hidden.png", ".cache/d.png", "out/e.png"])
    (tmp_path / "readme.txt").write_text("not an image")

    assert select_inputs(tmp_path) == ["a.JPG", "b.png"]
    assert select_inputs(tmp_path, recursive=True, exclude=tmp_path / "out") == ["a.JPG", "b.png", "sub/c.png"]
    assert select_inputs(tmp_path, recursive=True, patterns=("*.png",), exclude=tmp_path / "out") == [
        "b.png", "sub/c.png"]
    assert select_inputs(tmp_path, recursive=True, patterns=("sub/*",)) == ["sub/c.png"]


def test_selection_takes_phone_heic_files_so_that_each_gets_its_own_line(tmp_path):
    # Without the heif extra each is refused in its manifest line, naming the install; never skipped silently.
    photo_folder(tmp_path, ["a.png"])
    (tmp_path / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (tmp_path / "b.heif").write_bytes(b"\x00\x00\x00\x18ftypmif1")

    assert select_inputs(tmp_path) == ["IMG_0001.HEIC", "a.png", "b.heif"]


def test_glob_patterns_match_without_regard_to_case(tmp_path):
    photo_folder(tmp_path, ["PHOTO.JPG", "b.jpg", "c.Jpeg", "d.png", "Sub/E.JPG"])

    assert select_inputs(tmp_path, recursive=True, patterns=("*.jpg",)) == ["PHOTO.JPG", "Sub/E.JPG", "b.jpg"]
    assert select_inputs(tmp_path, recursive=True, patterns=("sub/*.jpg", "*.JPEG")) == ["Sub/E.JPG", "c.Jpeg"]


def test_colliding_outputs_are_all_named_after_their_inputs():
    inputs = ["a.jpg", "a.png", "a.jpg.png", "b.PNG", "b.webp", "sub/a.png"]

    planned = plan_outputs(inputs, ".png", explicit={})

    assert {name: output.path for name, output in planned.items()} == {
        "a.jpg": "a.jpg-2.png",  # a.jpg.png is the input a.jpg.png's own name, which it keeps
        "a.png": "a.png.png", "a.jpg.png": "a.jpg.png", "b.PNG": "b.PNG.png", "b.webp": "b.webp.png",
        "sub/a.png": "sub/a.png",
    }
    assert {name: output.renamed_from for name, output in planned.items()} == {
        "a.jpg": "a.png", "a.png": "a.png", "a.jpg.png": None, "b.PNG": "b.png", "b.webp": "b.png",
        "sub/a.png": None,
    }


def test_an_explicit_output_keeps_its_name_and_the_input_that_wanted_it_is_renamed():
    planned = plan_outputs(["a.png", "b.png"], ".png", explicit={"b.png": "A.png"})

    assert planned["b.png"].path == "A.png"
    assert planned["a.png"].path == "a.png.png" and planned["a.png"].renamed_from == "a.png"
    with pytest.raises(ConfigurationError, match="the same output"):
        plan_outputs(["a.png", "b.png"], ".png", explicit={"a.png": "x.png", "b.png": "X.PNG"})


def _params(tmp_path, *args):
    command = cli.commands["batch"]
    context = command.make_context("batch", [str(tmp_path / "in"), "-o", str(tmp_path / "out"), *map(str, args)])
    return context


def test_a_csv_and_a_jsonl_prompts_file_plan_the_same_batch(tmp_path):
    photo_folder(tmp_path / "in", ["alice.png", "bob.png", "carol.png"])
    (tmp_path / "p.csv").write_text(
        'file,prompt,steps,fasa-layer,--detect,omega,output\n'
        'alice.png,"a woman with red hair, laughing",30,a.processor;b.processor,false,none,x/alice.webp\n'
        'bob.png,,,,,,\n'
    )
    (tmp_path / "p.jsonl").write_text(
        json.dumps({"file": "alice.png", "prompt": "a woman with red hair, laughing", "steps": 30,
                    "fasa_layers": ["a.processor", "b.processor"], "detect": False, "omega": None,
                    "output": "x/alice.webp"}) + "\n\n" + json.dumps({"file": "bob.png"}) + "\n"
    )
    plans = []
    for name in ("p.csv", "p.jsonl"):
        context = _params(tmp_path, "--prompts", tmp_path / name, "--prompt", "a man with a beard", "--omega", 2)
        plans.append(build_plan(context.params, explicitly_given(context), "cuda"))

    assert plans[0].items == plans[1].items
    alice, bob, carol = plans[0].items
    assert alice.output == "x/alice.webp" and alice.prompt == "a woman with red hair, laughing"
    assert (alice.config.steps, alice.config.fasa_layers, alice.config.detect, alice.config.omega) == (
        30, ("a.processor", "b.processor"), False, None)
    assert bob.prompt == carol.prompt == "a man with a beard" and bob.config.omega == 2.0 and bob.overrides == ()


@pytest.mark.parametrize("settings, message", [
    ({"steps": "many"}, "steps: Invalid value: 'many' is not a valid integer"),
    ({"steps": 2.5}, "steps: 2.5 is not a valid integer"),
    ({"detect": 1}, "detect: 1 is not a valid boolean"),
    ({"method": "magic"}, "'magic' is not one of 'fasa', 'rofa'"),
    ({"gamma": "none"}, "gamma: needs a value"),  # steps may be none now: the model's own
    ({"fasa_steps": "0.5"}, "fasa_steps: needs 2 values"),
    ({"jpeg_quality": 0}, "jpeg_quality: Invalid value"),
    ({"output": "../x.png"}, "must be a path inside the output folder"),
    ({"output": ".freecure/x.png"}, "one of the batch's own files"),
    ({"output": "x.tiff"}, 'cannot write ".tiff"'),
])
def test_a_bad_setting_names_its_row(settings, message):
    with pytest.raises(ConfigurationError, match="^p.csv line 4: ") as refused:
        read_overrides(settings, "p.csv line 4")
    assert message in str(refused.value)


def _line(name, status, when, digest="h"):
    return {"input": name, "output": name, "status": status, "finished_at": when, "parameters_hash": digest}


def test_merging_keeps_the_latest_line_of_each_input_and_skips_a_torn_line(tmp_path):
    folder = BatchFolder(tmp_path)
    folder.work.mkdir()
    folder.write_manifest("".join(json.dumps(line) + "\n" for line in [
        _line("a.png", "failed", "2025-01-01T00:00:00"), _line("b.png", "ok", "2025-01-01T00:00:01")]))
    first, second = ShardWriter(folder.new_shard(0)), ShardWriter(folder.new_shard(1))
    second.append(_line("a.png", "skipped", "2025-01-02T00:00:00"))
    first.append(_line("a.png", "ok", "2025-01-02T00:00:05"))
    first.append(_line("c.png", "ok", "2025-01-02T00:00:03"))
    first.close(), second.close()
    with open(first.path, "a") as torn:
        torn.write('{"input": "d.png", "stat')

    merged = merge_shards(folder, delete=[first.path])

    assert merged.unreadable == 1
    lines, unreadable = read_lines(folder.manifest)
    assert unreadable == 0
    assert [(line["input"], line["status"]) for line in lines] == [("a.png", "ok"), ("b.png", "ok"), ("c.png", "ok")]
    assert folder.shard_files() == [second.path], "only the finished writer's shard is deleted"
    assert collect(folder).lines == {line["input"]: line for line in lines}, "merging again changes nothing"


def test_a_merge_with_nothing_to_merge_writes_no_manifest(tmp_path):
    folder = BatchFolder(tmp_path)

    merge_shards(folder)

    assert not folder.holds_batch()


@pytest.mark.parametrize("statuses, code", [
    ({"a": ("ok", 0), "b": ("ok", 0)}, 0),
    ({"a": ("ok", 0), "b": ("failed", 3), "c": ("failed", 3)}, 3),
    ({"a": ("failed", 3), "b": ("failed", 5)}, 1),
    ({"a": ("low_identity", 6), "b": ("ok", 0)}, 6),
    ({"a": ("low_identity", 6), "b": ("failed", 4)}, 4),
])
def test_the_exit_code_adds_up_the_outcomes(statuses, code):
    class Item:
        def __init__(self, name):
            self.input = name

    lines = {name: {"status": status, "exit_code": exit_code} for name, (status, exit_code) in statuses.items()}
    assert batch_exit_code([Item(name) for name in statuses], lines)[0] == code


def test_the_processes_get_the_command_line_they_were_given(tmp_path):
    typed = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--prompt", "a man", "--recursive",
             "--glob", "*.png", "--glob", "*.jpg", "--no-detect", "--fasa-steps", "0.1", "0.9",
             "--attribute", "red hair", "--steps", "3", "--num-processes", "2", "--device", "cpu"]
    context = cli.commands["batch"].make_context("batch", list(typed))

    rebuilt = command_line(context, leave_out={"num_processes"})
    again = cli.commands["batch"].make_context("batch", rebuilt)

    assert "--num-processes" not in rebuilt
    assert {**again.params, "num_processes": 2} == context.params
    assert explicitly_given(again) == explicitly_given(context)


def test_linked_folders_are_followed_once_and_broken_links_are_named(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    PIL.Image.new("RGB", (8, 8)).save(elsewhere / "linked.png")
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    PIL.Image.new("RGB", (8, 8)).save(photos / "a.png")
    (photos / "sub" / "shared").symlink_to(elsewhere, target_is_directory=True)
    (photos / "sub" / "up").symlink_to(photos, target_is_directory=True)          # a loop back to the top
    (photos / "again").symlink_to(elsewhere, target_is_directory=True)           # the same folder twice
    (photos / "gone.png").symlink_to(tmp_path / "deleted.png")                   # a broken link

    skipped: list[str] = []
    selected = select_inputs(photos, recursive=True, skipped=skipped)

    assert selected == ["a.png", "again/linked.png"] or selected == ["a.png", "sub/shared/linked.png"]
    assert any(line.startswith("gone.png: a broken link") for line in skipped), skipped
    assert any(line.startswith("sub/up:") and "already listed" in line for line in skipped), skipped
    assert len(skipped) == 3, skipped


def test_the_progress_keeps_counting_photos_whose_shard_was_merged_away(tmp_path):
    """A stopped batch merges its shards into the manifest and removes them before the bar's last
    refresh: the bar must still say how many photos were done, not 0."""
    from freecure_edit.batch.progress import ShardProgress

    shard = tmp_path / "p000.jsonl"
    # Two done, one a stopped run did not reach, and one still being written.
    shard.write_text('{"input": "a.png", "status": "ok"}\n{"input": "b.png", "status": "failed"}\n'
                     '{"input": "c.png", "status": "skipped"}\n{"input": "d.png", "sta')

    class Folder:
        def shard_files(self):
            return [shard] if shard.exists() else []

    seen = []
    progress = ShardProgress(7, Folder(), lambda done, total: seen.append((done, total)))
    progress.refresh()
    shard.unlink()
    progress.refresh()
    assert seen == [(2, 7)], seen  # still 2 of 7 after the shard went: nothing new to report
