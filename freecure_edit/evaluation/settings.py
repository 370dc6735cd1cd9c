"""Everything an evaluation run is told, checked before any model loads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from freecure_edit.errors import ConfigurationError
from freecure_edit.evaluation.methods import DEFAULT_METHODS, check_method_specs
from freecure_edit.evaluation.metrics import DEFAULT_METRICS, check_metric_names
from freecure_edit.evaluation.prompts import DEFAULT_SUBJECT


@dataclass
class EvalSettings:
    """input: a folder of photos or one photo. output: the folder for results.jsonl, summary.json,
    report.html and images/. prompts: texts (`<S>` is the subject); prompt_file: a CSV/JSONL file;
    neither: the paper's 20. models: diffusers models (Hub ids, folders, .safetensors), each loaded once.
    metric_options: clip_model, face_pack, face_root, lpips_net, toy_judges. cure: CureConfig
    settings every cure of the run shares (a method's own overrides come on top)."""

    input: Path
    output: Path
    prompts: tuple[str, ...] = ()
    prompt_file: Path | None = None
    subject: str = DEFAULT_SUBJECT
    methods: tuple[str, ...] = DEFAULT_METHODS
    metrics: tuple[str, ...] = DEFAULT_METRICS
    seeds: tuple[int, ...] = (0,)
    models: tuple[str, ...] = ("stable-diffusion-v1-5/stable-diffusion-v1-5",)
    steps: int | None = None  # None: each model's own (CureConfig's model defaults)
    guidance: float | None = None
    working_size: int | None = None
    parser: str = "segformer"
    parser_model: str | None = None
    device: str | None = None
    dtype: str | None = None
    metric_options: dict = field(default_factory=dict)
    cure: dict = field(default_factory=dict)
    resume: bool = False
    overwrite: bool = False

    def fingerprint(self) -> str:
        """A hash of the settings a result depends on beyond its own key (model, photo, prompt, method,
        seed): --resume keeps a line only when it was made under the same ones, as batch does."""
        shared = {
            "subject": self.subject, "metrics": list(self.metrics), "steps": self.steps,
            "guidance": self.guidance, "working_size": self.working_size, "parser": self.parser,
            "parser_model": self.parser_model, "dtype": self.dtype, "metric_options": self.metric_options,
            "cure": self.cure,
        }
        text = json.dumps(shared, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def checked(self) -> "EvalSettings":
        self.methods = check_method_specs(self.methods)
        self.metrics = check_metric_names(self.metrics)
        if not self.seeds:
            raise ConfigurationError("no seed given")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigurationError("a seed is given twice")
        if not self.models:
            raise ConfigurationError("no model given")
        if (self.steps is not None and self.steps < 1) or (self.guidance is not None and self.guidance < 1):
            raise ConfigurationError("steps must be at least 1 and guidance at least 1")
        if self.resume and self.overwrite:
            raise ConfigurationError("--resume and --overwrite contradict each other")
        return self
