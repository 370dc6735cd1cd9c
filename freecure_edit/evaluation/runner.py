"""run_eval: the whole grid (models x photos x prompts x seeds x methods) in numbered steps.

1. check the settings, the photos and the prompts, and refuse an output folder in use;
2. load the metrics, then the first model: any missing model fails here, before anything is written;
3. for each model (loaded once), photo (at the model's working size), prompt and seed, run each method,
   save its image, score it and append its line to results.jsonl (skipping what --resume finds done);
4. write summary.json (the tables) and report.html.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from pathlib import Path
from typing import Callable

import PIL.Image
import torch

from freecure_edit.errors import ConfigurationError, ModelNotFoundError
from freecure_edit.evaluation.methods import UnetCounter, build_method, split_spec
from freecure_edit.evaluation.methods.base import SkippedMethod
from freecure_edit.evaluation.methods.cure import CureCache
from freecure_edit.evaluation.metrics import Sample, load_metric
from freecure_edit.evaluation.photos import list_photos
from freecure_edit.evaluation.prompts import load_prompts
from freecure_edit.evaluation.report_grid import IDEAL_NAME
from freecure_edit.evaluation.results import RESULTS_NAME, ResultsLog
from freecure_edit.evaluation.settings import EvalSettings
from freecure_edit.models.presence import missing_sources, raise_if_missing

SUMMARY_NAME = "summary.json"
REPORT_NAME = "report.html"
IMAGES_NAME = "images"
# Progress: (done, total, what is running now).
Progress = Callable[[int, int, str], None]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-") or "x"


def image_path(model_index: int, photo_slug: str, prompt_id: str, method: str, seed: int) -> str:
    """Where a result's image goes, relative to the output folder."""
    return f"{IMAGES_NAME}/m{model_index}/{photo_slug}/{prompt_id}/{slug(method)}-seed{seed}.png"


def run_eval(settings: EvalSettings, progress: Progress | None = None, warn: Callable[[str], None] | None = None) -> dict:
    """Run the evaluation `settings` describes; return the summary (also in summary.json)."""
    # 1. settings, inputs, output folder
    settings = settings.checked()
    photos = list_photos(settings.input)
    prompts = load_prompts(settings.prompt_file, settings.prompts, settings.subject)
    output = Path(settings.output)
    _check_output(output, settings)
    _check_packages(settings)
    # Every missing model, named at once (models.presence): the diffusion models, the parser, the metrics'.
    missing = missing_sources([("diffusion model", model, "model_index.json") for model in settings.models]
                              + _parser_source(settings))

    # 2. metrics and the first model, before anything is written
    device = settings.device or _default_device()
    metrics = []
    for name in settings.metrics:
        try:
            metrics.append(load_metric(name, device=device, **settings.metric_options))
        except ModelNotFoundError as error:
            missing.append(str(error))
    raise_if_missing(missing)
    freecure = _load_freecure(settings, settings.models[0])
    if settings.overwrite and output.exists():
        for name in (RESULTS_NAME, SUMMARY_NAME, REPORT_NAME):
            (output / name).unlink(missing_ok=True)
        shutil.rmtree(output / IMAGES_NAME, ignore_errors=True)
    output.mkdir(parents=True, exist_ok=True)
    log = ResultsLog(output)
    settings_hash = settings.fingerprint()

    # 3. the grid
    total = len(settings.models) * len(photos) * len(prompts) * len(settings.seeds) * len(settings.methods)
    done = 0
    lpips_metric = next((m for m in metrics if m.name == "lpips"), None)
    locator = next((m for m in metrics if m.locates_faces), None)
    skipped: list[dict] = []  # methods that do not apply to a model (LEDITS++ on FLUX), with the reason
    model_settings: dict[str, dict] = {}  # the steps and guidance each model ran at
    try:
        for model_index, model in enumerate(settings.models):
            if model_index > 0:
                freecure = _load_freecure(settings, model)
            grid = _ModelGrid(settings, freecure, model, model_index, output)
            model_settings[model] = grid.model_settings
            for method in grid.methods:
                if isinstance(method, SkippedMethod):
                    skipped.append({"model": model, "method": method.spec, "reason": method.reason})
                    if warn is not None:
                        warn(f"{model}: {method.spec} skipped: {method.reason}")
            for photo_entry in photos:
                photo = grid.working_photo(photo_entry.path)
                from freecure_edit.imageio import save_image

                input_path = output / IMAGES_NAME / f"m{model_index}" / photo_entry.slug / "input.png"
                input_path.parent.mkdir(parents=True, exist_ok=True)
                save_image(photo, input_path, overwrite=True)
                face = locator.locate_face(photo) if locator is not None else None
                for prompt in prompts:
                    for seed in settings.seeds:
                        for method in grid.methods:
                            if isinstance(method, SkippedMethod):
                                done += 1
                                continue
                            key = (model, photo_entry.name, prompt.text, method.spec, seed)
                            if progress is not None:
                                progress(done, total, f"{photo_entry.name} | {method.spec} | seed {seed}")
                            if not log.done(key, settings_hash):
                                line = grid.evaluate(method, photo, photo_entry, prompt, seed, face, metrics,
                                                     lpips_metric, log)
                                line["settings_hash"] = settings_hash
                                log.append(line)
                                for message in line["warnings"]:
                                    if warn is not None:
                                        warn(f"{photo_entry.name}, {method.spec}: {message}")
                            done += 1
            grid.close()
    finally:
        log.close()
    if progress is not None:
        progress(done, total, "summary")

    # 4. summary and report
    summary = write_summary(output, settings, metrics, photos, prompts, skipped, model_settings)
    return summary


class _ModelGrid:
    """One loaded model's methods, counter and cure cache."""

    def __init__(self, settings: EvalSettings, freecure, model: str, model_index: int, output: Path):
        from freecure_edit.cure.config import CureConfig

        self.settings, self.freecure, self.model, self.model_index, self.output = (
            settings, freecure, model, model_index, output)
        self.counter = UnetCounter(freecure.backbone.attention_model)
        self.base_config = CureConfig(**{"steps": settings.steps, "guidance": settings.guidance, "detect": False,
                                         "working_size": settings.working_size, **settings.cure})
        # Steps and guidance the run leaves unset are the model's own (28 and 3.5 on FLUX.1-dev), for the
        # peers as for the cure.
        resolved = freecure.resolve_config(self.base_config)
        # The peers generate as the photo branch does: at the model's guidance, not the foundation
        # branch's lower one on SD 1.x (ModelDefaults.photo_fd_guidance).
        self.model_settings = {"family": freecure.backbone.model_defaults.name, "steps": resolved.steps,
                               "guidance": resolved.photo_guidance}
        self.cache = CureCache(freecure)
        self.methods = [
            build_method(spec, pipe=freecure.pipe, counter=self.counter, cache=self.cache,
                         base_config=self.base_config, steps=resolved.steps, guidance=resolved.photo_guidance,
                         backbone=freecure.backbone)
            for spec in settings.methods
        ]

    def working_photo(self, path: Path) -> PIL.Image.Image:
        from freecure_edit.imageio import load_image

        photo = load_image(path).rgb
        size = self.freecure.working_size(photo.size, self.base_config)
        return photo if photo.size == size else photo.resize(size, PIL.Image.LANCZOS)

    def reference_mask(self, photo, prompt_text: str):
        """The union mask of the run's default cure on this photo and prompt (what PSNR leaves out)."""
        result = self.cache.cure(photo, prompt_text, self.base_config)
        return result.masks.get("union")

    def evaluate(self, method, photo, photo_entry, prompt, seed, face, metrics, lpips_metric, log) -> dict:
        from freecure_edit.imageio import save_image

        torch.manual_seed(seed)
        result = method.run(photo, prompt.text, seed)
        relative = image_path(self.model_index, photo_entry.slug, prompt.id, method.spec, seed)
        (self.output / relative).parent.mkdir(parents=True, exist_ok=True)
        save_image(result.image, self.output / relative, overwrite=True)
        self._save_masks(result, photo, photo_entry, prompt)
        own_mask = result.mask
        sample = Sample(photo, result.image, prompt.text, face,
                        mask=(lambda: own_mask) if own_mask is not None else (lambda: self.reference_mask(photo, prompt.text)),
                        warnings=list(result.warnings), source=photo_entry.path)
        values: dict[str, dict] = {}
        for metric in metrics:
            values[metric.name] = metric.score(sample)
        self._save_ideal(metrics, sample, photo_entry, prompt)
        line = {
            "model": self.model, "photo": photo_entry.name, "prompt": prompt.text, "method": method.spec,
            "seed": seed, "kind": split_spec(method.spec)[0], "attributes": prompt.attribute_count,
            "prompt_id": prompt.id, "image": relative,
        }
        from freecure_edit.evaluation.tables import SCORED, harmonic_mean

        for name in SCORED:
            line[name] = next((v[name] for v in values.values() if v.get(name) is not None), None)

        line["hmean"] = harmonic_mean(line["pc"], line["if"])
        line.update(self._face_diversity(result.image, face, photo_entry, prompt, method.spec, seed, lpips_metric, log))
        line.update(evaluations=result.evaluations, seconds=round(result.seconds, 4),
                    peak_memory_bytes=result.peak_memory_bytes, metrics=values, warnings=sample.warnings,
                    finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        return line

    def _face_diversity(self, image, face, photo_entry, prompt, spec, seed, lpips_metric, log) -> dict:
        """Mean LPIPS between this output's face and those of the earlier seeds of the same cell."""
        if lpips_metric is None:
            return {"face_diversity": None, "face_diversity_pairs": 0}
        earlier = self.settings.seeds[: self.settings.seeds.index(seed)]
        distances = []
        for other in earlier:
            line = log.lines.get((self.model, photo_entry.name, prompt.text, spec, other))
            path = self.output / line["image"] if line else None
            if path is None or not path.is_file():
                continue
            with PIL.Image.open(path) as opened:
                previous = opened.convert("RGB")
            distances.append(lpips_metric.distance(lpips_metric.crop(image, face), lpips_metric.crop(previous, face)))
        if not distances:
            return {"face_diversity": None, "face_diversity_pairs": 0}
        return {"face_diversity": sum(distances) / len(distances), "face_diversity_pairs": len(distances)}

    def _save_masks(self, result, photo, photo_entry, prompt) -> None:
        """The masks over the photo, once per photo and prompt, from the first method that made masks."""
        if not result.masks:
            return
        path = self.output / IMAGES_NAME / f"m{self.model_index}" / photo_entry.slug / prompt.id / "masks.png"
        if path.exists():
            return
        from freecure_edit.imageio import save_image
        from freecure_edit.masks import mask_overlay

        save_image(mask_overlay(photo, result.masks), path, overwrite=True)
        if result.fd_image is not None:
            save_image(result.fd_image.resize(photo.size), path.with_name("fd.png"), overwrite=True)

    def _save_ideal(self, metrics, sample, photo_entry, prompt) -> None:
        """The ideal edit beside the masks, once per photo and prompt, where a metric knows it (the toy
        world's drawings): the report's grid shows it."""
        path = self.output / IMAGES_NAME / f"m{self.model_index}" / photo_entry.slug / prompt.id / IDEAL_NAME
        if path.exists():
            return
        for metric in metrics:
            ideal = metric.ideal(sample)
            if ideal is not None:
                from freecure_edit.imageio import save_image

                save_image(ideal, path, overwrite=True)
                return

    def close(self) -> None:
        self.counter.close()


def write_summary(output: Path, settings: EvalSettings, metrics, photos, prompts, skipped: list[dict] | None = None,
                  model_settings: dict[str, dict] | None = None) -> dict:
    """summary.json and report.html from every line of results.jsonl (this run's and earlier ones').
    `skipped`: the (model, method) pairs that did not apply, with why; they are not expected results."""
    skipped = list(skipped or [])
    not_run = {(entry["model"], entry["method"]) for entry in skipped}
    from freecure_edit.evaluation.report import write_report
    from freecure_edit.evaluation.results import read_results
    from freecure_edit.evaluation.tables import table1, table2
    from freecure_edit.imageio.atomic import write_atomically

    wanted = {(m, p.name, q.text, method, s) for m in settings.models for p in photos for q in prompts
              for method in settings.methods for s in settings.seeds if (m, method) not in not_run}
    lines = [line for key, line in read_results(output / RESULTS_NAME).items() if key in wanted]
    methods = list(settings.methods)
    summary = {
        "results": len(lines),
        "expected": len(wanted),
        "models": list(settings.models),
        "photos": len(photos),
        "prompts": [{"text": p.text, "attributes": p.attribute_count} for p in prompts],
        "methods": methods,
        "seeds": list(settings.seeds),
        "metrics": [metric.describe() for metric in metrics],
        "settings": {"steps": settings.steps, "guidance": settings.guidance, "working_size": settings.working_size,
                     "subject": settings.subject, "cure": dict(settings.cure), "models": dict(model_settings or {})},
        "skipped": skipped,
        "table1": table1(lines, methods),
        "table2": table2(lines, methods),
        "warnings": sum(len(line.get("warnings") or []) for line in lines),
    }
    data = (json.dumps(summary, indent=2, default=str) + "\n").encode("utf-8")
    write_atomically(output / SUMMARY_NAME, lambda handle: handle.write(data), overwrite=True)
    write_report(output / REPORT_NAME, summary, lines, settings, photos, prompts)
    return summary


def _check_output(output: Path, settings: EvalSettings) -> None:
    if output.exists() and not output.is_dir():
        raise ConfigurationError(f"output {output} is a file, not a folder")
    in_use = output.is_dir() and any((output / name).exists() for name in (RESULTS_NAME, SUMMARY_NAME, REPORT_NAME))
    if in_use and not (settings.resume or settings.overwrite):
        raise ConfigurationError(f"{output} already holds an evaluation: add --resume to go on with it, or --overwrite")


def _check_packages(settings: EvalSettings) -> None:
    import importlib.util

    needed = ["matplotlib"] + (["lpips"] if "lpips" in settings.metrics else [])
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"eval needs {' and '.join(missing)}: pip install 'freecure-edit[eval]'"
        )


def _default_device() -> str:
    from freecure_edit.models.devices import pick_device

    return str(pick_device(None))


def _parser_source(settings: EvalSettings) -> list[tuple[str, str, str]]:
    from freecure_edit.model_choice import DEFAULT_SEGFORMER_MODEL

    if settings.parser == "segformer":
        return [("face parser", settings.parser_model or DEFAULT_SEGFORMER_MODEL, "config.json")]
    return [("face parser", settings.parser_model, "config.json")] if settings.parser_model else []


def _load_freecure(settings: EvalSettings, model: str):
    from freecure_edit.api import FreeCure

    return FreeCure.from_pretrained(model, parser=settings.parser, parser_model=settings.parser_model,
                                    device=settings.device, dtype=settings.dtype, detector=None)
