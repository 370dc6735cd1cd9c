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
from pathlib import Path

import PIL.Image
import torch

from freecure_edit.backbones import backbone_for
from freecure_edit.compose import blend_into
from freecure_edit.config import CureConfig, CureStats
from freecure_edit.errors import OutOfMemoryError
from freecure_edit.inversion import invert
from freecure_edit.loading import DEFAULT_MODEL, load_pipeline
from freecure_edit.masks import FaceParser, label_region, load_parser
from freecure_edit.pipeline import CureRun, PhaseClock, cure_at_working_size
from freecure_edit.prompts import parse_prompt
from freecure_edit.result import CureResult

logger = logging.getLogger(__name__)

# The parser labels that make up a face, for the paste-back of expressions, which have no region.
FACE_LABELS = ("skin", "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip")
INVERSION_CACHE_SIZE = 2


class FreeCure:
    """A loaded diffusion pipeline and face parser, ready to cure photos.

    `parser` is a parser name ("segformer", "bisenet", "sam") loaded with `parser_model` and
    `parser_options`, or an already-built `FaceParser`.
    """

    def __init__(self, pipe, parser: str | FaceParser = "segformer", parser_model: str | None = None,
                 parser_options: dict | None = None):
        self.pipe = pipe
        self.backbone = backbone_for(pipe)
        if isinstance(parser, FaceParser):
            self.parser = parser
        else:
            self.parser = load_parser(parser, parser_model, device=self.backbone.device, **(parser_options or {}))
        self._inversions: OrderedDict[tuple, object] = OrderedDict()

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
    ) -> "FreeCure":
        """Load the diffusion model (see `load_pipeline` for the sources) and the face parser."""
        pipe = load_pipeline(model, config=model_config, device=device, dtype=dtype, offload=offload,
                             vae=vae, allow_pickle=allow_pickle)
        return cls(pipe, parser=parser, parser_model=parser_model, parser_options=parser_options)

    # -- the cure -------------------------------------------------------------------------------------

    def cure(self, image, prompt: str, config: CureConfig | None = None, *, progress=None) -> CureResult:
        """Cure the attributes `prompt` names in `image` (a path, PIL image or `LoadedImage`).

        The whole image is cured at the model's working size and blended back into the photo where the
        attribute masks (and, for expressions, the face) are; every other pixel is the input's.
        `progress(phase, done, total)` is called as steps complete.
        """
        config = config or CureConfig()
        photo = _rgb_photo(image)
        parsed = parse_prompt(
            prompt,
            template=config.template,
            attributes=list(config.attributes) if config.attributes is not None else None,
        )
        stats = CureStats()
        if not parsed.attributes:
            message = f"the prompt {prompt!r} names no facial attribute to cure; the photo is returned unchanged"
            logger.warning(message)
            return CureResult(photo.copy(), None, None, None, {}, [], parsed.template, config, [message], stats)

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        clock = PhaseClock(self.backbone, stats)
        working = self._working_image(photo, config)
        try:
            with clock.phase("inversion"):
                inversion = self._inversion(working, parsed.template, config, progress)
            run = cure_at_working_size(
                self.backbone, self.parser, working, parsed, config, inversion, clock, progress
            )
        except torch.cuda.OutOfMemoryError:
            raise OutOfMemoryError(
                f"the GPU ran out of memory curing at {working.size[0]}x{working.size[1]}; try --offload, "
                "--fd-cache-device cpu or a smaller --working-size"
            ) from None
        with clock.phase("paste"):
            paste_mask = _paste_mask(run, config)
            cured = blend_into(photo, run.image, paste_mask, config.paste_feather_px)
        stats.peak_memory_bytes = _peak_memory_bytes()
        masks = dict(run.masks.per_attribute)
        masks.update(union=run.masks.union, paste=paste_mask)
        return CureResult(
            image=cured,
            working_image=run.image,
            reconstruction=run.reconstruction,
            fd_image=run.fd_image,
            masks=masks,
            attributes=list(parsed.attributes),
            template=parsed.template,
            config=config,
            warnings=list(run.warnings),
            stats=stats,
        )

    # -- helpers ----------------------------------------------------------------------------------------

    def working_size(self, photo_size: tuple[int, int], config: CureConfig) -> tuple[int, int]:
        """The photo's size at the model's scale: long side = working size, a multiple the UNet accepts."""
        side = config.working_size or self.backbone.native_size
        unet_levels = len(self.backbone.unet.config.block_out_channels) - 1
        multiple = self.backbone.vae_scale_factor * 2**unet_levels
        width, height = photo_size
        scale = side / max(width, height)
        return tuple(max(multiple, round(length * scale / multiple) * multiple) for length in (width, height))

    def _working_image(self, photo: PIL.Image.Image, config: CureConfig) -> PIL.Image.Image:
        size = self.working_size(photo.size, config)
        return photo if photo.size == size else photo.resize(size, PIL.Image.LANCZOS)

    def _inversion(self, working: PIL.Image.Image, template: str, config: CureConfig, progress):
        """The photo's inversion, reused when the same photo is cured again with the same template."""
        exact = config.inversion == "exact"
        key = (
            hashlib.sha256(working.tobytes()).hexdigest(), working.size, template, config.steps,
            config.inversion, None if exact else config.photo_guidance,
        )
        inversion = self._inversions.get(key)
        if inversion is None:
            report = None if progress is None else (lambda done, total: progress("inversion", done, total))
            inversion = invert(self.backbone, working, template, config.steps, config.photo_guidance,
                               method=config.inversion, progress=report)
            self._inversions[key] = inversion
            while len(self._inversions) > INVERSION_CACHE_SIZE:
                self._inversions.popitem(last=False)
        else:
            self._inversions.move_to_end(key)
        # A cached exact inversion may have been made for another photo-branch guidance.
        inversion.prepare_sampling(inversion.prompt_pair, config.photo_guidance)
        return inversion


def _rgb_photo(image) -> PIL.Image.Image:
    from freecure_edit.io import LoadedImage, load_image

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
