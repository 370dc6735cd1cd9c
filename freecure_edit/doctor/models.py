"""Which models are on disk, what `fix` would download, and the licences that apply; offline only.

Hub models are looked up file by file in the local Hugging Face cache (try_to_load_from_cache reads
the cache and nothing else). SAM checkpoints and the face packs (insightface's, and dlib's from its
installed package) are looked for where the CLI and freecure_edit.faces look for them (see
models/locations.py and faces/packs.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from freecure_edit.models.locations import SAM_CHECKPOINT_NAMES, find_sam_checkpoint, freecure_home, hub_cache_dir
from freecure_edit.model_choice import DEFAULT_MODEL, DEFAULT_SEGFORMER_MODEL

SDXL_MODEL = "stabilityai/stable-diffusion-xl-base-1.0"
FLUX_DEV_MODEL = "black-forest-labs/FLUX.1-dev"
FLUX_SCHNELL_MODEL = "black-forest-labs/FLUX.1-schnell"
FLUX_DEV_LICENCE = "FLUX.1 [dev] Non-Commercial License (gated: accept it on the Hub, then `hf auth login`)"
NON_COMMERCIAL_FACES = "non-commercial use only (trained on CelebAMask-HQ)"

# Each group is satisfied by any one of its files: the files DiffusionPipeline.from_pretrained reads
# without a variant, as load_pipeline calls it.
_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
_TEXT_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_SD_FILES = [("model_index.json",), ("scheduler/scheduler_config.json",), ("tokenizer/vocab.json",)]
_SD_FILES += [tuple(f"{part}/{name}" for name in _WEIGHTS) for part in ("unet", "vae")]
_SD_FILES += [tuple(f"text_encoder/{name}" for name in _TEXT_WEIGHTS)]
_SDXL_FILES = _SD_FILES + [("tokenizer_2/vocab.json",), tuple(f"text_encoder_2/{name}" for name in _TEXT_WEIGHTS)]
# FLUX.1: CLIP-L for the pooled embedding, T5-XXL (sharded) for the sequence, the transformer (sharded),
# the 16-channel autoencoder and the flow-matching scheduler. A sharded model is found by its index.
_FLUX_FILES = [("model_index.json",), ("scheduler/scheduler_config.json",), ("tokenizer/vocab.json",),
               ("tokenizer_2/spiece.model",), ("transformer/diffusion_pytorch_model.safetensors.index.json",),
               ("text_encoder_2/model.safetensors.index.json",)]
_FLUX_FILES += [tuple(f"vae/{name}" for name in _WEIGHTS), tuple(f"text_encoder/{name}" for name in _TEXT_WEIGHTS)]


@dataclass
class ModelStatus:
    name: str
    source: str  # Hub id or file names
    used_by: str
    needed_by_fix: bool  # with the default options
    licence: str
    status: str = "missing"  # cached, partial or missing
    location: str | None = None
    size_bytes: int | None = None
    missing_files: list[str] = field(default_factory=list)
    how_to_get: str = ""
    downloads_automatically: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def _repo_folder(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def _cached_file(cache: Path, repo_id: str, names: tuple[str, ...]) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    for name in names:
        found = try_to_load_from_cache(repo_id, name, cache_dir=cache)
        if isinstance(found, str):
            return found
    return None


def hub_model(name: str, repo_id: str, files: list[tuple[str, ...]], **details) -> ModelStatus:
    cache = hub_cache_dir()
    command = details.get("used_by", "fix").split()[0]
    model = ModelStatus(name, repo_id, downloads_automatically=True,
                        how_to_get=f"hf download {repo_id} (or run `{command}` once while online)", **details)
    folder = _repo_folder(cache, repo_id)
    if not folder.is_dir():
        return model
    model.location = str(folder)
    model.size_bytes = sum(blob.stat().st_size for blob in (folder / "blobs").glob("*") if blob.is_file())
    model.missing_files = [group[0] for group in files if _cached_file(cache, repo_id, group) is None]
    model.status = "partial" if model.missing_files else "cached"
    return model


def sam_model() -> ModelStatus:
    model = ModelStatus(
        "SAM (segment-anything)", ", ".join(SAM_CHECKPOINT_NAMES), "fix --refine sam", False, "Apache-2.0",
        how_to_get=f"download https://dl.fbaipublicfiles.com/segment_anything/{SAM_CHECKPOINT_NAMES[0]} into "
                   f"{freecure_home()} or the current folder, or pass --sam-checkpoint",
    )
    found = find_sam_checkpoint()
    if found is not None:
        model.status, model.location, model.size_bytes = "cached", str(found), found.stat().st_size
    return model


def insightface_model() -> ModelStatus:
    from freecure_edit.errors import ModelNotFoundError
    from freecure_edit.faces.dlib_pack import missing_parts
    from freecure_edit.faces.packs import DEFAULT_PACK, default_root, locate_pack, missing_pack_message

    # `fix` needs it only where the dlib pack cannot stand in for it.
    model = ModelStatus(
        f"insightface {DEFAULT_PACK}", f"{default_root() / 'models' / DEFAULT_PACK}",
        "fix (face detection and identity; not with --no-detect), faces", bool(missing_parts("dlib")),
        "non-commercial research use only (insightface model packs)",
        how_to_get=missing_pack_message(DEFAULT_PACK, default_root() / "models"),
    )
    try:
        folder = locate_pack(DEFAULT_PACK)
    except ModelNotFoundError:
        return model
    model.status, model.location = "cached", str(folder)
    model.size_bytes = sum(path.stat().st_size for path in folder.glob("*.onnx"))
    return model


def dlib_model() -> ModelStatus:
    from freecure_edit.faces.dlib_pack import INSTALL_HINT, LICENCE, missing_parts, models_folder, needed_files

    files = needed_files("dlib")
    model = ModelStatus(
        "dlib face pack", ", ".join(files),
        "fix --face-pack dlib (and when no insightface pack is on disk), faces, eval --metrics dlib", False,
        LICENCE, how_to_get=INSTALL_HINT,
    )
    missing = missing_parts("dlib")
    folder = models_folder()
    if folder is not None:
        model.location = str(folder)
    if not missing:
        model.status = "cached"
        model.size_bytes = sum((folder / name).stat().st_size for name in files)
    elif folder is not None and len(missing) < len(files) + 1:
        model.status, model.missing_files = "partial", missing
    return model


def face_pack_for_fix() -> dict:
    """The face pack `fix` would use with no --face-pack, and why (faces.packs.choose_face_pack)."""
    from freecure_edit.errors import ModelNotFoundError
    from freecure_edit.faces.packs import DEFAULT_PACK, choose_face_pack

    try:
        chosen = choose_face_pack(None)
    except ModelNotFoundError as missing:
        return {"pack": None, "why": str(missing)}
    return {"pack": chosen.pack, "why": f"no insightface pack '{DEFAULT_PACK}' on disk" if chosen.note else "on disk"}


def model_report() -> list[ModelStatus]:
    return [
        hub_model("Stable Diffusion 1.5 (default --model)", DEFAULT_MODEL, _SD_FILES, used_by="fix",
                  needed_by_fix=True, licence="CreativeML OpenRAIL-M"),
        hub_model("SDXL base (--model)", SDXL_MODEL, _SDXL_FILES, used_by="fix --model " + SDXL_MODEL,
                  needed_by_fix=False, licence="CreativeML Open RAIL++-M"),
        hub_model("FLUX.1-dev (--model)", FLUX_DEV_MODEL, _FLUX_FILES, used_by="fix --model " + FLUX_DEV_MODEL,
                  needed_by_fix=False, licence=FLUX_DEV_LICENCE),
        hub_model("FLUX.1-schnell (--model)", FLUX_SCHNELL_MODEL, _FLUX_FILES,
                  used_by="fix --model " + FLUX_SCHNELL_MODEL, needed_by_fix=False, licence="Apache-2.0"),
        hub_model("SegFormer face parser (default --parser)", DEFAULT_SEGFORMER_MODEL,
                  [("config.json",), _TEXT_WEIGHTS], used_by="fix", needed_by_fix=True, licence=NON_COMMERCIAL_FACES),
        hub_model("IP-Adapter FaceID (generate --adapter)", "h94/IP-Adapter-FaceID",
                  [("ip-adapter-faceid_sd15.bin",), ("ip-adapter-faceid_sdxl.bin",)], used_by="generate",
                  needed_by_fix=False, licence="non-commercial research use only (as insightface's models)"),
        sam_model(),
        insightface_model(),
        dlib_model(),
    ]


LICENCES = (
    ("freecure-edit", "Apache-2.0"),
    ("Stable Diffusion 1.5", "CreativeML OpenRAIL-M (use restrictions travel with the weights and outputs)"),
    ("SDXL", "CreativeML Open RAIL++-M"),
    ("FLUX.1-dev", "FLUX.1 [dev] Non-Commercial License: outputs may be used, the weights not commercially"),
    ("FLUX.1-schnell", "Apache-2.0"),
    ("face parsers (jonathandinu/face-parsing, BiSeNet 79999_iter.pth)", NON_COMMERCIAL_FACES),
    ("SAM checkpoints", "Apache-2.0"),
    ("insightface packs (buffalo_l, antelopev2)", "non-commercial research use only"),
    ("IP-Adapter FaceID (h94/IP-Adapter-FaceID, for generate)", "non-commercial research use only"),
    ("dlib face pack (dlib-bin, face_recognition_models)", "dlib: Boost Software License; its model files: CC0 1.0 "
     "(commercial use allowed; the 68-point predictor in the same package, not used here, is not)"),
)
