"""The public entry point: load the models once, cure many photos.

    fc = FreeCure.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")
    result = fc.cure("photo.jpg", prompt="a woman with blonde curly hair and blue eyes")
    result.image.save("fixed.png")
"""

from __future__ import annotations

import hashlib
import logging
import resource
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import PIL.Image
import torch

from freecure_edit.attention import uniform_attention
from freecure_edit.backbones import backbone_for
from freecure_edit.cure.callbacks import CureCallbacks, check_cancel_hook, raise_if_cancelled
from freecure_edit.cure.config import CureConfig, CureStats
from freecure_edit.cure.pipeline import CureRun, PhaseClock, Reporter, cure_at_working_size
from freecure_edit.models.memory import check_working_memory, shape_of_pipeline
from freecure_edit.cure.result import CureResult
from freecure_edit.errors import ConfigurationError, OutOfMemoryError
from freecure_edit.imageio.compose import blend_into, paste_feather
from freecure_edit.imageio.gray_photos import colour_lost_warning
from freecure_edit.inversion import invert
from freecure_edit.masks import FaceParser, label_region, load_parser
from freecure_edit.models.loading import DEFAULT_MODEL, load_pipeline
from freecure_edit.prompts import parse_prompt

logger = logging.getLogger(__name__)

# The parser labels that make up a face, for the paste-back of expressions, which have no region.
FACE_LABELS = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip")
INVERSION_CACHE_SIZE = 2
# Attributes are parts of a face: a mask over more than this share of a whole photo is suspicious.
MASK_COVERAGE_WARNING = 0.5
# A whole photo cured at a working size this many times smaller comes back visibly softer (the face
# crop's own threshold, faces.crop.DOWNSCALE_WARNING); a model this small is a toy or test model.
SHRINK_WARNING = 2.0
TOY_NATIVE_SIZE = 128


class FreeCure:
    """A loaded diffusion pipeline and face parser, ready to cure photos.

    `parser` is a parser name ("segformer", "bisenet", "sam") loaded with `parser_model` and
    `parser_options`, or an already-built `FaceParser`. `face_analyzer` (from
    `freecure_edit.faces.load_face_analyzer`) detects faces; without one the whole image is cured.
    `sam_checkpoint` (a segment-anything vit_b/l/h file) enables `refine="sam"`.
    """

    def __init__(self, pipe, parser: str | FaceParser = "segformer", parser_model: str | None = None,
                 parser_options: dict | None = None, face_analyzer=None, sam_checkpoint: str | None = None):
        self.pipe = pipe
        self.face_analyzer = face_analyzer
        self.backbone = backbone_for(pipe)
        if isinstance(parser, FaceParser):
            self.parser = parser
        else:
            self.parser = load_parser(parser, parser_model, device=self.backbone.device, **(parser_options or {}))
        self.refiner = None
        if sam_checkpoint is not None:
            from freecure_edit.masks import SamRefiner

            self.refiner = SamRefiner.from_checkpoint(sam_checkpoint, device=self.backbone.device)
        self._inversions: OrderedDict[tuple, object] = OrderedDict()
        self.adapter = None  # the IP-Adapter FaceID `generate` runs with (load_adapter)

    @classmethod
    def from_pretrained(
        cls,
        model: str = DEFAULT_MODEL,
        parser: str | FaceParser = "segformer",
        parser_model: str | None = None,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        offload: bool = False,
        model_config: str | None = None,
        vae: str | None = None,
        allow_pickle: bool = False,
        parser_options: dict | None = None,
        detector: str | None = "buffalo_l",
        face_root: str | None = None,
        sam_checkpoint: str | None = None,
    ) -> "FreeCure":
        """Load the diffusion model (see `load_pipeline` for the sources), the face parser and, unless
        `detector` is None, an insightface pack ("buffalo_l", "antelopev2") from `face_root` or
        insightface's usual folder."""
        analyzer = None
        if detector is not None:
            from freecure_edit.faces import load_face_analyzer

            analyzer = load_face_analyzer(detector, root=face_root)
        pipe = load_pipeline(model, config=model_config, device=device, dtype=dtype, offload=offload,
                             vae=vae, allow_pickle=allow_pickle)
        return cls(pipe, parser=parser, parser_model=parser_model, parser_options=parser_options,
                   face_analyzer=analyzer, sam_checkpoint=sam_checkpoint)

    # -- the cure -------------------------------------------------------------------------------------

    def cure(self, image, prompt: str, config: CureConfig | None = None, *, progress=None,
             callbacks: CureCallbacks | None = None, cancel=None, faces=None) -> CureResult:
        """Cure the attributes `prompt` names in `image` (a path, PIL image or `LoadedImage`).

        With a face detector, each selected face is cropped, cured at the model's working size and
        pasted back; without one (or with `detect=False`) the whole image is. Only the attribute regions
        (and, for expressions, the face) are blended in; every other pixel is the input's.
        `progress(phase, done, total)` is called as steps complete; `callbacks` (a `CureCallbacks`) sees
        every sampling step with a latent preview, may replace the masks, and gets the result.
        `cancel` (a threading.Event, or a callable returning True to stop) is looked at after every
        denoising step of every phase and between phases; once set, the cure raises `CureCancelled`,
        with the model's attention processors restored and no half-made inversion cached.
        `faces`: what `self.face_analyzer.detect` found in this image (every face, before the selection),
        when the caller detected them already; the cure then does not detect them again.
        """
        check_cancel_hook(cancel)
        asked = config or CureConfig()
        result = self._cure(image, prompt, self.resolve_config(asked), progress, callbacks, cancel, faces)
        result.model_defaults = {"model": self.backbone.model_defaults.name, "used": asked.from_model()}
        if asked.guidance is not None and not self.backbone.model_defaults.guidance_used:
            result.warnings.append(f"{self.backbone.model_defaults.name} has no guidance input: guidance "
                                   f"{asked.guidance:g} is ignored")
        if callbacks is not None and callbacks.on_result is not None:
            callbacks.on_result(result)
        return result

    # -- generation inside IP-Adapter FaceID ---------------------------------------------------------

    def load_adapter(self, source: str | None = None, weight_name: str | None = None, *, image_encoder=None,
                     shortcut: bool | None = None):
        """Load an IP-Adapter FaceID (Hub id, folder or file; default h94/IP-Adapter-FaceID's file for
        this model) into the model for `generate`. Curing photos afterwards is refused until
        `unload_adapter`: the adapter's processors would change every cure.

        FaceID Plus / PlusV2 also read CLIP image features of the reference: `image_encoder` (a
        CLIPVisionModelWithProjection, or a Hub id or folder of one; default laion's ViT-H-14), or False
        when `reference_features` is set to the caller's own; `shortcut` is PlusV2's (default: from the
        file name)."""
        from freecure_edit.generation.adapter import DEFAULT_ADAPTER, load_faceid_adapter

        if self.adapter is not None:
            self.unload_adapter()
        if image_encoder is None and hasattr(self.face_analyzer, "reference_features"):
            image_encoder = False  # the face pack gives the image features itself (the toy one does)
        self.adapter = load_faceid_adapter(self.pipe, source or DEFAULT_ADAPTER, weight_name, family=self.backbone.kind,
                                           image_encoder=image_encoder, shortcut=shortcut)
        return self.adapter

    def reference_features(self, image):
        """FaceID Plus's (cond, uncond) features of the reference image, each (1, 1, tokens, width): the
        face pack's own where it has them (the toy pack), else the pipeline's CLIP image encoder; assign
        a function to replace it."""
        from freecure_edit.generation.adapter import clip_reference_features

        if hasattr(self.face_analyzer, "reference_features"):
            return self.face_analyzer.reference_features(image)
        return clip_reference_features(self.pipe, image)

    def unload_adapter(self) -> None:
        if self.adapter is not None:
            self.pipe.unload_ip_adapter()
            if getattr(self.pipe.unet, "peft_config", None):
                self.pipe.delete_adapters([name for name in self.pipe.unet.peft_config if name.startswith("faceid_")])
            self.adapter = None

    def generate(self, id_image, prompt: str, config: CureConfig | None = None, *, seed: int | None = 0,
                 latents: torch.Tensor | None = None, identity=None, progress=None,
                 callbacks: CureCallbacks | None = None, cancel=None):
        """Generate `prompt` as the person in `id_image` (a path, PIL image or LoadedImage) with the loaded
        IP-Adapter FaceID, and cure the attributes the adapter suppresses (generation/pipeline.py).

        PD (the adapter alone) and FD (no identity) start from one z_T: `latents` (1, C, h, w) when given,
        else noise drawn on the CPU from `seed`. `identity`: a ready embedding instead of `id_image`'s
        (then the face pack is only used to measure the result). Without `config` the masks come from
        FD's parse as the authors' do (mask_source "fd"); a CureConfig of your own keeps its
        mask_source, "both" by default. Returns a GenerationResult with the cured image, PD alone, FD
        and the masks."""
        from freecure_edit.generation.run import run_generation

        reference = None if id_image is None else _rgb_photo(id_image)
        if reference is None and identity is None:
            raise ConfigurationError("generate needs a reference image (id_image) or an identity embedding")
        result = run_generation(self, self.adapter, reference, prompt, config, seed=seed, latents=latents,
                                identity=identity, progress=progress, callbacks=callbacks, cancel=cancel)
        if callbacks is not None and callbacks.on_result is not None:
            callbacks.on_result(result)
        return result

    def forget_inversions(self) -> None:
        """Drop the cached inversions: the next cure inverts its photo again, and its stats count that.
        For measuring each setting's own cost, as the evaluation does."""
        self._inversions.clear()

    def resolve_config(self, config: CureConfig | None = None, photo: bool = True) -> CureConfig:
        """`config` with the settings it leaves to the model (steps, guidance; None) filled in with this
        model's own (`backbone.model_defaults`: SD's 50 steps at 7.5, FLUX.1-dev's 28 at 3.5...); `photo`
        False for a generation, whose foundation branch does not start from a photo's inverted noise."""
        return (config or CureConfig()).with_model_defaults(self.backbone.model_defaults, photo=photo)

    def _cure(self, image, prompt: str, config: CureConfig, progress, callbacks, cancel,
              detected=None) -> CureResult:
        if self.adapter is not None:
            raise ConfigurationError("an IP-Adapter is loaded for generate; call unload_adapter() before curing photos")
        if config.refine == "sam" and self.refiner is None:
            raise ConfigurationError("refine='sam' needs a SAM checkpoint: pass --sam-checkpoint PATH (sam_vit_b_01ec64.pth)")
        photo = _rgb_photo(image)
        parsed = parse_prompt(
            prompt,
            template=config.template,
            attributes=list(config.attributes) if config.attributes is not None else None,
            tokenizer=getattr(self.pipe, "tokenizer", None),
        )
        if not parsed.attributes:
            message = f"the prompt {prompt!r} names no facial attribute to cure; the photo is returned unchanged"
            logger.warning(message)
            return CureResult(photo.copy(), None, None, None, {}, [], parsed.template, config,
                              [*parsed.notes, message])
        if config.working_size is not None:
            # A size out of the machine's reach is refused, not left to the kernel's silent kill.
            check_working_memory(shape_of_pipeline(self.pipe), 0, config.working_size, self.backbone.device)
        hooks = (progress, callbacks, cancel)
        if config.min_identity is None:
            result = self._cure_once(photo, parsed, config, hooks, detected)
        else:
            result = self._cure_keeping_identity(photo, parsed, config, hooks, detected)
        # What the prompt parser left out or ignored (syntax, token limit, words not about the face).
        result.warnings[:0] = parsed.notes
        lost = colour_lost_warning(parsed.attributes) if _written_in_gray(image) else None
        if lost is not None:
            result.warnings.append(lost)
        result.warnings += _toy_model_warnings(result.image.size, self.backbone.native_size)
        return result

    def _cure_keeping_identity(self, photo, parsed, config: CureConfig, hooks, detected=None) -> CureResult:
        """Retry at lower strength while the identity stays under `min_identity`; keep the best try."""
        attempts = []
        strength = config.strength
        for _ in range(config.identity_retries + 1):
            raise_if_cancelled(hooks[2])
            result = self._cure_once(photo, parsed, config.with_changes(strength=strength), hooks, detected)
            attempts.append(result)
            if result.identity_similarity is None or result.identity_similarity >= config.min_identity:
                break
            strength *= config.identity_retry_factor
        best = max(attempts, key=lambda r: -2.0 if r.identity_similarity is None else r.identity_similarity)
        best.attempts = len(attempts)
        if best.identity_similarity is None:
            best.warnings.append("min_identity was set but no face recogniser is loaded; identity not checked")
        elif best.identity_similarity < config.min_identity:
            best.below_threshold = True
            best.warnings.append(
                f"identity similarity {best.identity_similarity:.3f} stayed below {config.min_identity} after "
                f"{len(attempts)} attempts (strength down to {strength:g}); the closest attempt is returned"
            )
        return best

    def _cure_once(self, photo: PIL.Image.Image, parsed, config: CureConfig, hooks, detected=None) -> CureResult:
        stats = CureStats()
        clock = PhaseClock(self.backbone, stats)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        try:
            if self.face_analyzer is not None and config.detect:
                cured, runs, faces, warnings = self._cure_faces(photo, parsed, config, clock, hooks, detected)
            else:
                cured, runs, faces, warnings = self._cure_whole(photo, parsed, config, clock, hooks)
        except torch.cuda.OutOfMemoryError:
            raise OutOfMemoryError(
                "the GPU ran out of memory; try --offload, --fd-cache-device cpu or a smaller --working-size"
            ) from None
        stats.peak_memory_bytes = _peak_memory_bytes()
        first = runs[0]
        masks = dict(first.masks.per_attribute)
        masks.update(union=first.masks.union, paste=_paste_mask(first, config))
        similarities = [face["identity_similarity"] for face in faces if face.get("identity_similarity") is not None]
        return CureResult(
            image=cured,
            working_image=first.image,
            reconstruction=first.reconstruction.image if first.reconstruction.available else None,
            fd_image=first.fd_image,
            masks=masks,
            attributes=list(parsed.attributes),
            template=parsed.template,
            config=config,
            warnings=warnings,
            stats=stats,
            identity_similarity=min(similarities) if similarities else None,
            faces=faces,
            mask_sources=dict(first.mask_sources),
        )

    def _cure_whole(self, photo, parsed, config, clock, hooks):
        working = self._working_image(photo, config)
        run = self._run(working, parsed, config, clock, hooks, (None, photo.size))
        with clock.phase("paste"):
            paste_mask = _paste_mask(run, config)
            cured = blend_into(photo, run.image, paste_mask, paste_feather(config.paste_feather_px, photo.size))
        warnings = list(run.warnings) + _resolution_warnings(photo.size, working.size)
        coverage = float(paste_mask.mean())
        if coverage > MASK_COVERAGE_WARNING:
            warnings.append(
                f"the cure's mask covers {100 * coverage:.0f}% of the image, so most of the photo was "
                "regenerated; look at the masks with --save-intermediates"
            )
        return cured, [run], [], warnings

    def _cure_faces(self, photo, parsed, config, clock, hooks, detected=None):
        from freecure_edit.faces import crop_face, paste_back, select_faces

        with clock.phase("faces"):
            if detected is None:
                detected = self.face_analyzer.detect(photo)
            chosen = select_faces(detected, config.face_selection)
        side = config.working_size or self.backbone.native_size
        current = photo
        runs, reports, warnings = [], [], []
        for face in chosen:
            # Crop from the photo as cured so far, so that overlapping crops keep the earlier faces' cure.
            with clock.phase("faces"):
                crop = crop_face(current, face, size=side, margin=config.face_margin)
            run = self._run(crop.image, parsed, config, clock, hooks, (crop.matrix, photo.size))
            with clock.phase("paste"):
                current = paste_back(current, run.image, crop, _paste_mask(run, config),
                                     paste_feather(config.paste_feather_px, round(crop.size / crop.scale)))
            similarity = None
            if self.face_analyzer.has_recognition:
                with clock.phase("identity"):
                    similarity = float(self.face_analyzer.identity_similarity(photo, current, face))
            face_warnings = list(crop.warnings) + list(run.warnings)
            warnings.extend(f"face {face.index}: {message}" for message in face_warnings)
            runs.append(run)
            reports.append({
                "index": face.index,
                "box": [round(float(v), 1) for v in face.box],
                "score": round(float(face.score), 4),
                "identity_similarity": similarity,
                "warnings": face_warnings,
            })
        return current, runs, reports, warnings

    def _run(self, working, parsed, config, clock, hooks, frame) -> CureRun:
        progress, callbacks, cancel = hooks
        raise_if_cancelled(cancel)
        # The inversion runs under the cure's attention processor: the same arithmetic, or an empty-mask
        # cure would not retrace the photo.
        with clock.phase("inversion"), _uniform_attention(self.backbone):
            inversion = self._inversion(working, parsed.template, config, clock, hooks)
        raise_if_cancelled(cancel)
        return cure_at_working_size(self.backbone, self.parser, working, parsed, config, inversion, clock,
                                    progress, refiner=self.refiner, callbacks=callbacks, frame=frame,
                                    cancel=cancel)

    # -- helpers ----------------------------------------------------------------------------------------

    def working_size(self, photo_size: tuple[int, int], config: CureConfig) -> tuple[int, int]:
        """The photo's size at the model's scale: long side = working size, a multiple the UNet accepts."""
        side = config.working_size or self.backbone.native_size
        multiple = self.backbone.size_multiple
        width, height = photo_size
        scale = side / max(width, height)
        return tuple(max(multiple, round(length * scale / multiple) * multiple) for length in (width, height))

    def _working_image(self, photo: PIL.Image.Image, config: CureConfig) -> PIL.Image.Image:
        size = self.working_size(photo.size, config)
        return photo if photo.size == size else photo.resize(size, PIL.Image.LANCZOS)

    def _inversion(self, working: PIL.Image.Image, template: str, config: CureConfig, clock, hooks):
        """The photo's inversion, reused when the same photo is cured again with the same template.

        It is cached only once complete, so a cancelled inversion leaves the cache as it was."""
        exact = config.inversion == "exact"
        key = (
            hashlib.sha256(working.tobytes()).hexdigest(), working.size, template, config.steps,
            config.inversion, None if exact else config.photo_guidance,
        )
        inversion = self._inversions.get(key)
        if inversion is None:
            inversion = invert(self.backbone, working, template, config.steps, config.photo_guidance,
                               method=config.inversion, step_callback=Reporter(*hooks).inversion_step,
                               autoencoder_phase=clock.phase)
            self._inversions[key] = inversion
            while len(self._inversions) > INVERSION_CACHE_SIZE:
                self._inversions.popitem(last=False)
        else:
            self._inversions.move_to_end(key)
        # A cached exact inversion may have been made for another photo-branch guidance.
        inversion.prepare_sampling(inversion.prompt_pair, config.photo_guidance)
        return inversion


def _uniform_attention(backbone):
    # FLUX keeps diffusers' own processor for the inversion: the cure's FLUX processor computes the
    # same attention bit for bit (tests/test_flux_attention.py), so nothing needs replacing there.
    return nullcontext() if backbone.kind == "flux" else uniform_attention(backbone.unet)


def _written_in_gray(image) -> bool:
    from freecure_edit.imageio import LoadedImage

    return isinstance(image, LoadedImage) and image.colour_plan.output_gray


def _rgb_photo(image) -> PIL.Image.Image:
    from freecure_edit.imageio import LoadedImage, load_image

    if isinstance(image, LoadedImage):
        return image.rgb
    if isinstance(image, (str, Path, bytes, PIL.Image.Image)):
        return load_image(image).rgb
    raise TypeError(f"expected a path, bytes, a PIL image or a LoadedImage, got {type(image).__name__}")


def _paste_mask(run: CureRun, config: CureConfig) -> torch.Tensor:
    if config.strength == 0:
        return torch.zeros_like(run.masks.union)
    mask = run.masks.union.clone()
    if run.ran_apg and run.photo_parse is not None:
        face = label_region(run.photo_parse, FACE_LABELS, tuple(mask.shape))
        mask = torch.maximum(mask, (face >= 0.5).float())
    return mask


def _peak_memory_bytes() -> int:
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _resolution_warnings(photo_size: tuple[int, int], working_size: tuple[int, int]) -> list[str]:
    """A whole photo cured at a much smaller working size comes back softer where it was cured."""
    shrink = max(photo_size) / max(working_size)
    if shrink <= SHRINK_WARNING:
        return []
    return [f"the photo ({photo_size[0]}x{photo_size[1]}) is cured at {working_size[0]}x{working_size[1]}, "
            f"{shrink:.1f}x smaller, so the cured region comes back softer than the rest of the photo"]


def _toy_model_warnings(photo_size: tuple[int, int], native_size: int) -> list[str]:
    """A toy or test model (the toy world's draws 64 px cartoon portraits) given a real photo."""
    if native_size > TOY_NATIVE_SIZE or max(photo_size) <= SHRINK_WARNING * native_size:
        return []
    return [f"this model draws {native_size} px images (a toy or test model, such as the toy world's cartoon "
            f"portraits): on a {photo_size[0]}x{photo_size[1]} photo it paints blurs, not a cure"]
