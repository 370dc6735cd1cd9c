"""Every CureConfig knob is a `fix` option with the library's default, and reaches the config; the
names the CLI repeats to keep --help light match the library's."""

from __future__ import annotations

from dataclasses import fields

import pytest

from freecure_edit.cli.config_options import CONFIG_OPTIONS, config_values, option_name
from freecure_edit.cli.fix import fix
from freecure_edit.cli.model_options import (
    DEFAULT_FACE_PACK,
    DEFAULT_MODEL,
    DEFAULT_SEGFORMER_MODEL,
    DTYPE_CHOICES,
    PARSER_CHOICES,
)
from freecure_edit.cure.presets import apply_presets
from freecure_edit.cure.config import DRAFT, CureConfig
from freecure_edit.models.defaults import FLUX_SCHNELL_DEFAULTS, STABLE_DIFFUSION_DEFAULTS

# A value for every field, different from its default, as typed on the command line and as expected.
SAMPLES = {
    "method": (["--method", "rofa"], "rofa"),
    "steps": (["--steps", "7"], 7),
    "guidance": (["--guidance", "5"], 5.0),
    "pd_guidance": (["--pd-guidance", "1"], 1.0),
    "omega": (["--omega", "2.5"], 2.5),
    "strength": (["--strength", "0.5"], 0.5),
    "fasa_layers": (["--fasa-layer", "a.processor", "--fasa-layer", "b.processor"], ("a.processor", "b.processor")),
    "fasa_steps": (["--fasa-steps", "0.1", "0.9"], (0.1, 0.9)),
    "gamma": (["--gamma", "0.25"], 0.25),
    "apg": (["--apg", "reinvert"], "reinvert"),
    "inversion": (["--inversion", "ddim"], "ddim"),
    "fd_corrections": (["--no-fd-corrections"], False),
    "mask_corrections": (["--mask-corrections", "0.5"], 0.5),
    "fd_mask_corrections": (["--fd-mask-corrections", "0.25"], 0.25),
    "fd_start": (["--fd-start", "0.4"], 0.4),
    "fd_blend": (["--fd-blend", "0.5"], 0.5),
    "fd_noise": (["--fd-noise", "fresh"], "fresh"),
    "fd_seed": (["--fd-seed", "3"], 3),
    "mask_source": (["--mask-source", "photo"], "photo"),
    "mask_dilation_px": (["--mask-dilation-px", "3"], 3),
    "mask_feather_px": (["--mask-feather-px", "1.5"], 1.5),
    "paste_feather_px": (["--paste-feather-px", "2"], 2.0),
    "attributes": (["--attribute", "red hair", "--attribute", "glasses"], ("red hair", "glasses")),
    "template": (["--template", "a portrait of a man"], "a portrait of a man"),
    "fd_cache_device": (["--fd-cache-device", "cpu"], "cpu"),
    "working_size": (["--working-size", "256"], 256),
    "rofa_start": (["--rofa-start", "0.25"], 0.25),
    "rofa_weight": (["--rofa-weight", "0.5"], 0.5),
    "refine": (["--refine", "sam"], "sam"),
    "detect": (["--no-detect"], False),
    "faces": (["--faces", "0,2"], "0,2"),
    "face_margin": (["--face-margin", "0.3"], 0.3),
    "min_identity": (["--min-identity", "0.4"], 0.4),
    "identity_retries": (["--identity-retries", "0"], 0),
    "identity_retry_factor": (["--identity-retry-factor", "0.8"], 0.8),
    "draft_steps": (["--draft-steps", "12"], 12),
    "true_cfg": (["--true-cfg", "3"], 3.0),
}


def parsed_params(args: list[str]) -> dict:
    return fix.make_context("fix", ["photo.png", "--prompt", "a man with red hair", *args]).params


def test_every_config_field_has_an_option_and_a_sample():
    names = [f.name for f in fields(CureConfig)]
    assert sorted(CONFIG_OPTIONS) == sorted(names)
    assert sorted(SAMPLES) == sorted(names)


def test_the_defaults_are_the_dataclass_defaults():
    assert CureConfig(**config_values(parsed_params([]))) == CureConfig()


@pytest.mark.parametrize("field_name", list(SAMPLES))
def test_each_option_sets_its_field(field_name):
    args, expected = SAMPLES[field_name]

    config = CureConfig(**config_values(parsed_params(args)))

    assert getattr(config, field_name) == expected
    assert getattr(CureConfig(), field_name) != expected
    fix_options = {parameter.name for parameter in fix.params}
    assert option_name(field_name) in fix_options


def test_the_copies_of_library_names_match_the_library():
    from freecure_edit.models.devices import pick_dtype
    from freecure_edit.faces import DEFAULT_PACK
    from freecure_edit.imageio import DEFAULT_MAX_PIXELS
    from freecure_edit.models.loading import DEFAULT_MODEL as LIBRARY_DEFAULT_MODEL
    from freecure_edit.masks import available_parsers
    from freecure_edit.masks.segformer import DEFAULT_MODEL as LIBRARY_SEGFORMER_MODEL
    assert DEFAULT_MODEL == LIBRARY_DEFAULT_MODEL
    assert DEFAULT_SEGFORMER_MODEL == LIBRARY_SEGFORMER_MODEL
    assert set(PARSER_CHOICES) | {"sam"} == set(available_parsers())
    for name in DTYPE_CHOICES:
        pick_dtype(__import__("torch").device("cpu"), name)
    help_texts = {parameter.name: parameter.help for parameter in fix.params}
    assert f"{DEFAULT_MAX_PIXELS // 1_000_000} million" in help_texts["max_pixels"]
    # No pack named: the first run's choice, insightface's default pack first (faces.packs.choose_face_pack).
    assert DEFAULT_FACE_PACK is None and f"[default: {DEFAULT_PACK} when on disk" in help_texts["face_pack"]


def test_draft_caps_the_models_steps_unless_steps_were_given():
    defaults = CureConfig().to_dict()

    drafted, notes = apply_presets(defaults, set(), draft=True, device_type="cuda")
    assert drafted["steps"] is None and drafted["draft_steps"] == DRAFT["steps"] and notes == []
    kept, _ = apply_presets({**defaults, "steps": 35}, {"steps"}, draft=True, device_type="cuda")
    assert kept["steps"] == 35 and kept["draft_steps"] is None
    # A ceiling, not a count: SD's 50 become 20, FLUX.1-schnell's 4 stay 4.
    config = CureConfig(**drafted)
    assert config.with_model_defaults(STABLE_DIFFUSION_DEFAULTS).steps == DRAFT["steps"]
    assert config.with_model_defaults(FLUX_SCHNELL_DEFAULTS).steps == FLUX_SCHNELL_DEFAULTS.steps == 4


def test_the_cpu_uses_fewer_steps_and_says_so_unless_steps_were_given():
    defaults = CureConfig().to_dict()

    on_cpu, notes = apply_presets(defaults, set(), draft=False, device_type="cpu")
    assert on_cpu["draft_steps"] == DRAFT["steps"] < STABLE_DIFFUSION_DEFAULTS.steps
    assert len(notes) == 1 and f"at most --steps {DRAFT['steps']}" in notes[0]
    chosen, notes = apply_presets({**defaults, "steps": 50}, {"steps"}, draft=False, device_type="cpu")
    assert chosen["steps"] == 50 and chosen["draft_steps"] is None and notes == []
    on_gpu, notes = apply_presets(defaults, set(), draft=False, device_type="cuda")
    assert on_gpu == defaults and notes == []


def test_the_presets_name_their_fields_by_the_command_line_flags():
    # The library's notes say "--steps 20": the options the preset sets must be spelt as the CLI spells them.
    from freecure_edit.cure.presets import DRAFT_HELP, _flag

    for field_name in DRAFT:
        assert _flag(field_name) == CONFIG_OPTIONS[field_name].flag.split("/")[0]
        assert _flag(field_name) in DRAFT_HELP
