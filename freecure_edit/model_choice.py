"""Which models a cure loads (the diffusion model, the face parser, SAM, the face pack) and loading them
into a FreeCure, from plain values: the command line's model options, a Python user's keywords.

Kept free of torch at import: the command line's `--help` reads the defaults from here.
tests/test_cli_options.py checks that the names repeated here (the default model, the parsers) match
the library's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.models.locations import SAM_CHECKPOINT_NAMES, find_sam_checkpoint, freecure_home

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
DEFAULT_SEGFORMER_MODEL = "jonathandinu/face-parsing"
# None: insightface's buffalo_l when it is on disk, else the dlib pack when installed (faces.packs).
DEFAULT_FACE_PACK = None
# The registry's "sam" parser is left out: --refine sam tightens the masks of either of these.
PARSER_CHOICES = ("segformer", "bisenet")
DTYPE_CHOICES = ("fp16", "bf16", "fp32")

# Every model setting, with the value it takes when not given.
MODEL_DEFAULTS: dict[str, Any] = {
    "model": DEFAULT_MODEL, "model_config": None, "vae": None, "allow_pickle": False, "parser": "segformer",
    "parser_model": None, "sam_checkpoint": None, "face_pack": DEFAULT_FACE_PACK, "face_root": None,
    "device": None, "dtype": None, "offload": False,
}


@dataclass(frozen=True)
class ModelChoice:
    model: str
    model_config: Path | None
    vae: str | None
    allow_pickle: bool
    parser: str
    parser_model: str | None
    sam_checkpoint: Path | None  # set exactly when SAM refines the masks
    face_pack: str | None  # None until check_face_pack chooses one
    face_root: Path | None
    dtype: str | None
    offload: bool
    face_pack_note: str | None = None  # why check_face_pack chose the pack, when the user named none

    def parameters(self, detect: bool) -> dict[str, Any]:
        """What to store in the output for reproducibility (unset or unused choices left out)."""
        values = {
            "model": self.model, "model_config": self.model_config, "vae": self.vae, "parser": self.parser,
            "parser_model": self.parser_model, "sam_checkpoint": self.sam_checkpoint,
            "face_pack": self.face_pack if detect else None,
        }
        return {key: str(value) for key, value in values.items() if value is not None}


def model_choice(values: Mapping[str, Any], refine: str) -> ModelChoice:
    """The models `values` (MODEL_DEFAULTS' keys; those left out take their default) and the config's
    `refine` ask for; a missing SAM checkpoint is reported now, before anything loads."""
    unknown = set(values) - set(MODEL_DEFAULTS)
    if unknown:
        raise ConfigurationError(f"unknown model setting(s) {', '.join(sorted(unknown))}; "
                                 f"the model settings are {', '.join(MODEL_DEFAULTS)}")
    params = {**MODEL_DEFAULTS, **values}
    checkpoint = params["sam_checkpoint"]
    if checkpoint is not None and refine != "sam":
        raise ConfigurationError("--sam-checkpoint is only used with --refine sam")
    if refine == "sam":
        checkpoint = _sam_checkpoint(checkpoint)
    return ModelChoice(
        model=params["model"], model_config=params["model_config"], vae=params["vae"],
        allow_pickle=params["allow_pickle"], parser=params["parser"], parser_model=params["parser_model"],
        sam_checkpoint=checkpoint, face_pack=params["face_pack"], face_root=params["face_root"],
        dtype=params["dtype"], offload=params["offload"],
    )


def _sam_checkpoint(given: Path | None) -> Path:
    if given is not None:
        given = Path(given)
        if not given.expanduser().is_file():
            raise ModelNotFoundError(f"SAM checkpoint {given} does not exist")
        return given.expanduser()
    found = find_sam_checkpoint()
    if found is None:
        raise ModelNotFoundError(
            f"--refine sam needs a segment-anything checkpoint and none was found: download {SAM_CHECKPOINT_NAMES[0]} "
            f"(https://dl.fbaipublicfiles.com/segment_anything/{SAM_CHECKPOINT_NAMES[0]}) into {freecure_home()} "
            "or the current folder, or pass --sam-checkpoint PATH"
        )
    return found


def check_face_pack(choice: ModelChoice) -> ModelChoice:
    """The choice with its face pack chosen (see faces.packs.choose_face_pack) and checked on disk: a
    missing face detector is refused before the diffusion model spends a minute loading."""
    from freecure_edit.faces.packs import choose_face_pack

    try:
        chosen = choose_face_pack(choice.face_pack, choice.face_root)
    except ModelNotFoundError as error:
        raise ModelNotFoundError(
            f"{error}, or pass --no-detect to cure the whole image without a face detector"
        ) from None
    return replace(choice, face_pack=chosen.pack, face_root=chosen.root, face_pack_note=chosen.note)


def check_models(choice: ModelChoice, *, detect: bool) -> ModelChoice:
    """check_face_pack (with `detect`), and the diffusion model, its VAE and the face parser on disk or
    downloadable now: everything missing is named in one ModelNotFoundError, in seconds, before anything
    loads (models.presence). SAM's checkpoint was checked by model_choice."""
    from freecure_edit.models.presence import missing_sources, raise_if_missing

    missing = []
    if detect:
        try:
            choice = check_face_pack(choice)
        except ModelNotFoundError as error:
            missing.append(str(error))
    sources = []
    model = Path(choice.model).expanduser()
    if model.exists():
        # A model that is there but broken is named with whatever else is missing; an inpainting model
        # (ConfigurationError, exit 2) is the wrong model, refused at once.
        from freecure_edit.models.checks import check_local_model

        try:
            check_local_model(model)
        except ModelNotFoundError as error:
            missing.append(str(error))
    else:
        sources.append(("diffusion model", choice.model, "model_index.json"))
    if choice.vae is not None:
        sources.append(("VAE", choice.vae, "config.json"))
    if choice.parser == "segformer":
        sources.append(("face parser", choice.parser_model or DEFAULT_SEGFORMER_MODEL, "config.json"))
    elif choice.parser_model is not None:
        sources.append(("face parser", choice.parser_model, "config.json"))
    missing += missing_sources(sources)
    raise_if_missing(missing)
    return choice


def check_working_size(choice: ModelChoice, working_size: int | None, device) -> None:
    """Refuse a working size whose memory floor (models.memory) exceeds the device's free memory, judged
    from the model's files before it loads; None (the model's own size) is not checked."""
    if working_size is None:
        return
    from freecure_edit.models.memory import check_working_memory, model_memory_facts

    shape, weights = model_memory_facts(choice.model)
    check_working_memory(shape, weights, working_size, device)


def load_freecure(choice: ModelChoice, device, *, detect: bool):
    """The diffusion model, the face parser, SAM when it refines the masks and, with `detect`, the
    face detector (the choice's pack, or the first run's choice when check_face_pack has not chosen one),
    loaded on `device`."""
    from freecure_edit.api import FreeCure

    if detect and choice.face_pack is None:
        choice = check_face_pack(choice)
    toy_pack = detect and choice.face_pack == "toy"
    fc = FreeCure.from_pretrained(
        choice.model, parser=choice.parser, parser_model=choice.parser_model, device=device, dtype=choice.dtype,
        offload=choice.offload, model_config=str(choice.model_config) if choice.model_config else None,
        vae=choice.vae, allow_pickle=choice.allow_pickle,
        detector=choice.face_pack if detect and not toy_pack else None,
        face_root=str(choice.face_root) if choice.face_root else None,
        sam_checkpoint=str(choice.sam_checkpoint) if choice.sam_checkpoint else None,
    )
    if toy_pack:
        # The toy world's identity judge as a face pack (toyworld/face_pack.py): the toy adapters' identity.
        from freecure_edit.toyworld.face_pack import ToyFaceAnalyzer

        fc.face_analyzer = ToyFaceAnalyzer()
    return fc
