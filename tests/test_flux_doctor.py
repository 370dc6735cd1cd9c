"""`doctor` reports what a FLUX run needs and the FLUX licences, offline."""

from __future__ import annotations

from test_cli_doctor import cache_file, doctor_json, empty_caches  # noqa: F401 (a fixture)

FLUX_SCHNELL = "black-forest-labs/FLUX.1-schnell"


def test_flux_models_are_listed_with_their_licences(empty_caches):  # noqa: F811
    report = doctor_json()

    models = {model["source"]: model for model in report["models"]}
    assert "Non-Commercial" in models["black-forest-labs/FLUX.1-dev"]["licence"]
    assert models[FLUX_SCHNELL]["licence"] == "Apache-2.0"
    assert not models[FLUX_SCHNELL]["needed_by_fix"]
    licences = dict(map(tuple, report["licences"]))
    assert "Non-Commercial" in licences["FLUX.1-dev"] and licences["FLUX.1-schnell"] == "Apache-2.0"


def test_a_flux_cache_without_the_transformer_is_partial_and_names_it(empty_caches):  # noqa: F811
    hub = empty_caches / "hf" / "hub"
    for name in ("model_index.json", "scheduler/scheduler_config.json", "tokenizer/vocab.json",
                 "tokenizer_2/spiece.model", "text_encoder_2/model.safetensors.index.json",
                 "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors"):
        cache_file(hub, FLUX_SCHNELL, name)

    schnell = {model["source"]: model for model in doctor_json()["models"]}[FLUX_SCHNELL]

    assert schnell["status"] == "partial"
    assert schnell["missing_files"] == ["transformer/diffusion_pytorch_model.safetensors.index.json"]
