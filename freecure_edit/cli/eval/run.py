"""The eval command's run: options -> EvalSettings, a progress bar with an ETA on stderr, the summary."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from freecure_edit.cli.messages import warn
from freecure_edit.errors import ConfigurationError


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigurationError(f"--seeds must be integers separated by commas, got {text!r}") from None


def settings_from(params: dict):
    from freecure_edit.evaluation import DEFAULT_METHODS, EvalSettings

    if params["prompts"] and params["prompt_file"]:
        raise ConfigurationError("give --prompt or --prompts, not both")
    options = {"clip_model": params["clip_model"], "face_pack": params["face_pack"],
               "face_root": None if params["face_root"] is None else str(params["face_root"]),
               "lpips_net": params["lpips_net"],
               "toy_judges": None if params["toy_judges"] is None else str(params["toy_judges"])}
    return EvalSettings(
        input=params["input_path"], output=params["output_dir"], prompts=tuple(params["prompts"]),
        prompt_file=params["prompt_file"], subject=params["subject"],
        methods=tuple(params["methods"]) or DEFAULT_METHODS,
        metrics=tuple(params["metrics"].split(",")), seeds=_seeds(params["seeds"]),
        models=tuple(params["models"]) or ("stable-diffusion-v1-5/stable-diffusion-v1-5",),
        steps=params["steps"], guidance=params["guidance"], working_size=params["working_size"],
        parser=params["parser"], parser_model=params["parser_model"], device=params["device"],
        dtype=params["dtype"], metric_options=options, resume=params["resume"], overwrite=params["overwrite"],
    )


class _Bar:
    """One bar over the whole grid; started by the first report, so that refusals print no bar."""

    def __init__(self):
        self.progress: Progress | None = None

    def __call__(self, done: int, total: int, what: str) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), TextColumn("{task.description}"), console=Console(stderr=True),
            )
            self.task = self.progress.add_task(what, total=total)
            self.progress.start()
        self.progress.update(self.task, completed=done, description=what[:60])

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run(params: dict) -> None:
    from freecure_edit.cli.quiet import quiet_libraries, quiet_loaded_libraries

    quiet_libraries(params["debug"])
    from freecure_edit.evaluation import run_eval

    settings = settings_from(params)
    quiet_loaded_libraries(params["debug"])
    if not params["debug"]:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
    bar = _Bar()
    seen: set[str] = set()

    def warn_once(message: str) -> None:
        # The same warning comes back for every seed and prompt; once is enough on the terminal (every
        # line of results.jsonl keeps its own).
        method_and_text = message.split(", ", 1)[-1]
        if method_and_text not in seen:
            seen.add(method_and_text)
            warn(message)

    try:
        summary = run_eval(settings, progress=bar, warn=warn_once)
    finally:
        bar.close()
    if params["as_json"]:
        click.echo(json.dumps(summary, default=str))
        return
    for model, rows in summary["table1"].items():
        click.echo(f"{model}:")
        for method, row in rows.items():
            values = " ".join(f"{name} {_text(row[key])}" for name, key in
                              (("PC", "pc"), ("IF", "if"), ("hMean", "hmean"), ("dhMean", "delta_hmean"),
                               ("evals", "evaluations"), ("s", "seconds")))
            click.echo(f"  {method:<28} {values}")
    click.echo(f"{summary['results']} results in {params['output_dir']} (report.html, summary.json, results.jsonl)")


def _text(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
