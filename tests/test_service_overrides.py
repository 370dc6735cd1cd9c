"""freecure_edit.overrides, the neutral reader of settings given as data (prompts-file rows, worker
options, web forms): it must accept what the command line accepts, read the same way, for every field,
without importing click; and the samples import only the library's public modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import click
import pytest

from freecure_edit.cli.config_options import CONFIG_OPTIONS
from freecure_edit.errors import ConfigurationError
from freecure_edit.overrides import field_kinds, field_name_of, read_overrides, read_setting

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TEXTS = ["3", "-2", "2.5", "1e3", "x", "true", "no", "On", "fasa", "rofa", "branch", "null-text", "sam", ""]


@pytest.mark.parametrize("field_name", sorted(CONFIG_OPTIONS))
def test_every_option_of_the_command_line_names_its_field_with_the_same_shape(field_name):
    spec = CONFIG_OPTIONS[field_name]
    kind = field_kinds()[field_name]

    assert field_name_of(spec.flag.split("/")[0]) == field_name == field_name_of(field_name)
    assert kind.sequence == (spec.repeatable or spec.nargs > 1)
    assert kind.count == (spec.nargs if spec.nargs > 1 else None)
    assert (kind.type is bool) == spec.is_switch


@pytest.mark.parametrize("field_name", sorted(CONFIG_OPTIONS))
def test_text_is_read_as_the_command_line_reads_it(field_name):
    spec = CONFIG_OPTIONS[field_name]
    param_type = click.BOOL if spec.is_switch else click.types.convert_type(spec.type)
    for text in TEXTS:
        try:
            expected = param_type.convert(text, None, None)
        except click.BadParameter:
            expected = "refused"
        try:
            value = read_setting(field_name, text, "row")
            got = value[0] if isinstance(value, tuple) and len(value) == 1 else value
        except ConfigurationError:
            got = "refused"
        if spec.repeatable and text == "":
            continue  # an empty list cell is no value at all; the command line cannot type one
        if spec.nargs > 1:
            continue  # needs two values; covered below
        assert got == expected and type(got) is type(expected), (text, got, expected)


def test_json_values_lists_and_none():
    overrides = read_overrides({"pd-guidance": 2, "--fasa-layer": ["a.processor", "b.processor"], "detect": False,
                                "fasa_steps": "0.1;0.9", "omega": "none", "attribute": "red hair",
                                "jpeg_quality": 90, "output": "x/a.webp"}, "row")

    assert overrides.config == {"pd_guidance": 2.0, "fasa_layers": ("a.processor", "b.processor"), "detect": False,
                                "fasa_steps": (0.1, 0.9), "omega": None, "attributes": ("red hair",)}
    assert type(overrides.config["pd_guidance"]) is float
    assert (overrides.jpeg_quality, overrides.output) == (90, "x/a.webp")


@pytest.mark.parametrize("settings, message", [
    ({"steps": True}, "steps: True is not a valid integer"),
    ({"guidance": "7,5"}, "guidance: Invalid value: '7,5' is not a valid float"),
    ({"template": 3}, "template: 3 is not a valid text"),
    ({"strength": None}, "strength: needs a value"),
    ({"jpeg_quality": 101}, "jpeg_quality: Invalid value: 101 is not in the range 1<=x<=100"),
    ({"colour": "red"}, "colour: unknown setting"),
])
def test_a_bad_value_is_refused_naming_the_setting(settings, message):
    with pytest.raises(ConfigurationError, match="^p.jsonl line 2: ") as refused:
        read_overrides(settings, "p.jsonl line 2")
    assert message in str(refused.value)


def test_the_module_imports_no_command_line_library():
    code = "import sys, freecure_edit.overrides; print(sorted(m for m in ('click', 'rich') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_samples_import_only_the_public_library():
    private = []
    for path in SAMPLES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                parts = name.split(".")
                if parts[0] == "freecure_edit" and ("cli" in parts or any(p.startswith("_") for p in parts)):
                    private.append(f"{path.relative_to(SAMPLES)}: {name}")
    assert private == []


@pytest.mark.parametrize("settings, text", [({"steps": 100000}, "at most 1000"), ({"working_size": 99999}, "at most 4096")])
def test_settings_that_cannot_work_are_refused_from_data_too(settings, text):
    """The worker, the page and batch rows read settings as data: the same limits as the command line."""
    from freecure_edit.cure.config import CureConfig
    from freecure_edit.errors import ConfigurationError
    from freecure_edit.overrides import read_overrides

    with pytest.raises(ConfigurationError, match=text):
        CureConfig(**read_overrides(settings, "row 1").config)
