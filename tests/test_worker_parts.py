"""The worker's parts in-process, each on its own: reading a request and its options, a request's
settings over the start-up defaults, the painted mask, the guard that puts the attention processors
back, and a `--help` that loads no heavy library."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from freecure_edit.cli.config_options import config_defaults
from freecure_edit.model_choice import ModelChoice
from freecure_edit.service.images import load_painted_mask
from freecure_edit.worker.options import MODEL_OPTIONS, RequestOptions, read_request_options
from freecure_edit.worker.request import cure_request
from freecure_edit.worker.settings import WorkerDefaults
from freecure_edit.cure.config import DRAFT
from freecure_edit.errors import ConfigurationError, InputImageError

PNG_BYTES = b"\x89PNG\r\n\x1a\n"


def test_options_take_field_or_option_names_with_json_values():
    options = read_request_options({
        "pd-guidance": 2, "--fasa-layer": ["a.processor", "b.processor"], "detect": False,
        "fasa_steps": [0.2, 0.8], "jpeg_quality": 80, "draft": True, "max_pixels": 0,
        "save_intermediates": "steps", "overwrite": True,
    }, "options")

    assert options.config == {"pd_guidance": 2.0, "fasa_layers": ("a.processor", "b.processor"), "detect": False,
                              "fasa_steps": (0.2, 0.8)}
    assert (options.jpeg_quality, options.draft, options.max_pixels, options.overwrite) == (80, True, 0, True)
    assert options.save_intermediates == Path("steps")


@pytest.mark.parametrize("options, message", [
    ({"parser-model": "other"}, "chosen when the worker starts"),
    ({"output": "a.png"}, 'give "output" next to "options"'),
    ({"steps": True}, "steps"),
    ({"draft": "yes"}, "must be true or false"),
    ({"max_pixels": -1}, "max_pixels"),
    ({"jpeg_quality": 101}, "jpeg_quality"),
    ({"colour": "red"}, "colour: unknown option"),
])
def test_options_a_request_cannot_give_are_refused_by_name(options, message):
    with pytest.raises(ConfigurationError, match=message):
        read_request_options(options, "options")


def test_every_model_option_is_refused_in_a_request():
    assert {"model", "parser", "parser_model", "device", "dtype", "offload", "sam_checkpoint"} <= MODEL_OPTIONS


def _defaults(given=(), draft=False, detector_loaded=False, **values) -> WorkerDefaults:
    choice = ModelChoice(model="tiny", model_config=None, vae=None, allow_pickle=False, parser="segformer",
                         parser_model=None, sam_checkpoint=None, face_pack="buffalo_l", face_root=None, dtype=None,
                         offload=False)
    return WorkerDefaults({**config_defaults(), "detect": False, **values}, frozenset(given), draft, "cpu", choice,
                          detector_loaded, jpeg_quality=95, max_pixels=None)


def test_on_the_cpu_the_draft_steps_fill_in_what_neither_the_worker_nor_the_request_set():
    config, notes = _defaults().config()
    assert config.steps is None and config.draft_steps == DRAFT["steps"] and "running on the CPU" in notes[0]

    config, notes = _defaults().config(RequestOptions(config={"steps": 3}))
    assert config.steps == 3 and notes == []

    config, notes = _defaults(given={"steps"}, steps=5).config()
    assert config.steps == 5 and notes == []


def test_a_request_setting_overrides_the_start_up_default():
    config, _ = _defaults(given={"strength"}, strength=0.5).config(RequestOptions(config={"strength": 0.8}))
    assert config.strength == 0.8


def test_detect_is_refused_when_no_face_detector_was_loaded():
    with pytest.raises(ConfigurationError, match="--no-detect"):
        _defaults().config(RequestOptions(config={"detect": True}))
    assert _defaults(detector_loaded=True).config(RequestOptions(config={"detect": True}))[0].detect


@pytest.mark.parametrize("fields, writes_file, answers_base64", [
    ({"input": "a.png"}, True, False),
    ({"input": "a.png", "return_base64": True}, False, True),
    ({"input": "a.png", "output": "b.png", "return_base64": True}, True, True),
    ({"image_base64": base64.b64encode(PNG_BYTES).decode()}, False, True),
    ({"image_base64": base64.b64encode(PNG_BYTES).decode(), "output": "b.png"}, True, False),
])
def test_where_the_cure_goes(fields, writes_file, answers_base64):
    request = cure_request({"id": 1, "prompt": "a man with red hair", **fields})

    assert (request.writes_file, request.answers_base64) == (writes_file, answers_base64)


def test_a_data_url_is_read_as_its_base64_payload():
    url = "data:image/png;base64," + base64.b64encode(PNG_BYTES).decode()

    request = cure_request({"id": "r", "prompt": "a man with red hair", "image_base64": url, "mask_base64": url})

    assert request.source == PNG_BYTES and request.mask_source == PNG_BYTES


def test_a_painted_mask_is_its_brightness_with_transparency_counting_as_black(tmp_path):
    strokes = np.zeros((6, 8, 4), dtype=np.uint8)
    strokes[..., :3] = 255  # white everywhere...
    strokes[:, 4:, 3] = 255  # ...but only the right half opaque
    strokes[0, 0, :3], strokes[0, 0, 3] = 0, 255
    PIL.Image.fromarray(strokes, "RGBA").save(tmp_path / "strokes.png")
    grey = np.full((6, 8), 51, dtype=np.uint8)
    PIL.Image.fromarray(grey, "L").save(tmp_path / "grey.png")

    painted = load_painted_mask(tmp_path / "strokes.png", (8, 6), None, [])
    assert painted[:, 4:].min() == 1.0 and painted[:, :4].max() == 0.0
    assert np.allclose(load_painted_mask(tmp_path / "grey.png", (8, 6), None, []), 0.2)
    with pytest.raises(InputImageError, match="the painted mask is 8x6 and the photo 6x8"):
        load_painted_mask(tmp_path / "grey.png", (6, 8), None, [])


def test_the_guard_puts_back_the_loaded_attention_processors(load_tiny):
    from diffusers.models.attention_processor import AttnProcessor

    from freecure_edit.service.hooks import AttentionHookGuard

    unet = load_tiny("sd", "smooth").unet
    loaded = dict(unet.attn_processors)
    guard = AttentionHookGuard(unet)
    assert guard.restore() is False

    unet.set_attn_processor(AttnProcessor())  # what a run that never cleaned up would leave

    assert guard.restore() is True
    assert all(unet.attn_processors[name] is processor for name, processor in loaded.items())
    assert guard.restore() is False


def test_the_worker_help_imports_no_heavy_library():
    script = ("import sys\nfrom freecure_edit.cli.app import cli\n"
              "try:\n    cli(['worker', '--help'], prog_name='freecure-edit')\nexcept SystemExit:\n    pass\n"
              "print(sorted(n for n in ('torch', 'diffusers', 'transformers') if n in sys.modules), file=sys.stderr)")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)

    assert "JSON" in run.stdout and "--max-pixels" in run.stdout
    assert run.stderr.strip() == "[]", run.stderr


@pytest.mark.parametrize("line, expected_id", [
    (b'{"id": "r-latin1", "prompt": "caf\xe9"}', "r-latin1"),
    (b'{"prompt": "caf\xe9", "id": 7}', 7),
    (b'{"id": "r-\xe9", "prompt": "x"}', None),
    (b'\xff\xfe{}', None),
    (b'{"id": "cut \xe9', None),
])
def test_a_line_with_invalid_utf8_keeps_the_id_it_still_lets_us_read(line, expected_id):
    from freecure_edit.worker.protocol import BadRequestLine, read_message

    with pytest.raises(BadRequestLine, match="not UTF-8 text") as refused:
        read_message(line)
    assert refused.value.request_id == expected_id
    assert refused.value.exit_code == 2
