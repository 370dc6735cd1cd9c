"""`freecure-edit eval` as a library: the paper's measurements over photos x prompts x methods x seeds.

    from freecure_edit.evaluation import EvalSettings, run_eval
    summary = run_eval(EvalSettings(input="photos/", output="eval/", methods=("input", "cure", "img2img"),
                                    metrics=("clip", "arcface"), seeds=(0, 1)))
    summary["table1"]   # {model: {method: {"pc", "if", "hmean", "delta_pc", ...}}}

The pieces are usable alone: `load_metric(name)` and `Sample` (metrics), `build_method(spec, ...)`
(methods, each (photo, prompt, seed) -> output and cost), `table1`/`table2`, `load_prompts`,
`PAPER_PROMPTS`.

A front end: may import api.py, the method, batch/ (its file listing), toyworld/ (the toy
metric) and the lower layers.
"""

from __future__ import annotations

from freecure_edit.evaluation.methods import DEFAULT_METHODS, METHODS, build_method
from freecure_edit.evaluation.metrics import DEFAULT_METRICS, METRICS, Sample, load_metric
from freecure_edit.evaluation.prompts import PAPER_PROMPTS, EvalPrompt, load_prompts
from freecure_edit.evaluation.runner import run_eval
from freecure_edit.evaluation.settings import EvalSettings
from freecure_edit.evaluation.tables import harmonic_mean, table1, table2

__all__ = [
    "DEFAULT_METHODS", "DEFAULT_METRICS", "METHODS", "METRICS", "PAPER_PROMPTS", "EvalPrompt", "EvalSettings",
    "Sample", "build_method", "harmonic_mean", "load_metric", "load_prompts", "run_eval", "table1", "table2",
]
