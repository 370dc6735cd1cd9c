"""One generation through a loaded FreeCure: the reference's identity, z_T, the method, the result."""

from __future__ import annotations

import numpy as np
import PIL.Image
import torch

from freecure_edit.cure.callbacks import check_cancel_hook
from freecure_edit.cure.config import CureConfig, CureStats
from freecure_edit.cure.pipeline import PhaseClock
from freecure_edit.errors import ConfigurationError, OutOfMemoryError
from freecure_edit.generation.identity import generated_similarity, reference_embedding
from freecure_edit.generation.pipeline import generate_at_size, initial_latent
from freecure_edit.generation.result import GenerationResult
from freecure_edit.prompts import parse_prompt

# Settings of the photo cure that have no meaning for a generation; a value other than the default warns.
PHOTO_ONLY = ("inversion", "fd_corrections", "mask_corrections", "fd_mask_corrections", "fd_start", "fd_noise",
              "fd_seed", "paste_feather_px", "detect", "faces", "face_margin", "min_identity", "apg")


def generation_config(config: CureConfig | None) -> CureConfig:
    """The config a generation runs with: the authors' masks (FD's parse) unless one was asked for."""
    return config if config is not None else CureConfig(mask_source="fd")


def run_generation(fc, adapter, id_image: PIL.Image.Image | None, prompt: str, config: CureConfig | None, *, seed: int | None = 0,
                   latents: torch.Tensor | None = None, identity: np.ndarray | None = None, progress=None,
                   callbacks=None, cancel=None) -> GenerationResult:
    check_cancel_hook(cancel)
    if adapter is None:
        raise ConfigurationError("generate needs an IP-Adapter FaceID: load one with FreeCure.load_adapter(...)")
    asked = generation_config(config)
    config = fc.resolve_config(asked, photo=False)
    warnings = _unsupported(config)
    stats = CureStats()
    clock = PhaseClock(fc.backbone, stats)
    parsed = parse_prompt(prompt, template=config.template,
                          attributes=list(config.attributes) if config.attributes is not None else None,
                          tokenizer=getattr(fc.pipe, "tokenizer", None))
    if not parsed.attributes:
        warnings.append(f"the prompt {prompt!r} names no facial attribute to cure: the result is the "
                        "personalized model's own image")
    if identity is None:
        with clock.phase("identity"):
            identity = reference_embedding(fc.face_analyzer, id_image, adapter.id_dim)
    identity = np.asarray(identity, dtype=np.float32).ravel()
    features = None
    if adapter.kind == "faceid-plus":
        if id_image is None:
            raise ConfigurationError("FaceID Plus reads the reference image's features too: give the image, not "
                                     "only an identity embedding")
        with clock.phase("identity"):
            features = fc.reference_features(id_image)
    if identity.shape[0] != adapter.id_dim:
        raise ConfigurationError(f"the identity embedding has {identity.shape[0]} numbers, the adapter takes {adapter.id_dim}")
    side = config.working_size or fc.backbone.native_size
    multiple = fc.backbone.size_multiple
    side = max(multiple, side - side % multiple)
    if latents is None:
        latents = initial_latent(fc.backbone, (side, side), 0 if seed is None else seed)
    else:
        seed = None
        latents = latents.to(fc.backbone.device, torch.float32)
    try:
        run = generate_at_size(fc.backbone, fc.parser, parsed, torch.from_numpy(identity), latents, config, clock,
                               progress, callbacks, cancel, features=features)
    except torch.cuda.OutOfMemoryError:
        raise OutOfMemoryError("the GPU ran out of memory; try --offload, --fd-cache-device cpu or a smaller "
                               "--working-size") from None
    masks = dict(run.masks.per_attribute)
    masks["union"] = run.masks.union
    similarity = pd_similarity = None
    if fc.face_analyzer is not None and fc.face_analyzer.has_recognition:
        with clock.phase("identity"):
            similarity = generated_similarity(fc.face_analyzer, identity, run.image)
            pd_similarity = generated_similarity(fc.face_analyzer, identity, run.pd_image)
        if similarity is None:
            warnings.append("no face was found in the generated image, so its identity was not measured")
    return GenerationResult(
        image=run.image, pd_image=run.pd_image, fd_image=run.fd_image, masks=masks,
        attributes=list(parsed.attributes), template=parsed.template, prompt=prompt, config=config, seed=seed,
        adapter={"kind": adapter.kind, "source": adapter.source, "weight_name": adapter.weight_name,
                 **({"shortcut": adapter.shortcut} if adapter.kind == "faceid-plus" else {})},
        warnings=[*parsed.notes, *warnings, *run.warnings], stats=stats,
        identity_similarity=similarity, pd_identity_similarity=pd_similarity,
    )


def _unsupported(config: CureConfig) -> list[str]:
    if config.method != "fasa":
        raise ConfigurationError("generation runs FASA (the final paper's method); --method rofa is for photos")
    if config.refine != "none":
        raise ConfigurationError("--refine sam needs the foundation branch's cross-attention, which the adapter's "
                                 "processors hold in generation; use the parser's masks")
    default = CureConfig()
    changed = [name for name in PHOTO_ONLY if getattr(config, name) != getattr(default, name)]
    if not changed:
        return []
    return [f"{', '.join(changed)} only apply to curing a photo; generation ignores them (APG there is always "
            "the paper's re-inversion)"]
