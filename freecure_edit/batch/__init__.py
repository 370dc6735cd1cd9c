"""Batches of photos: which files to cure, where each output goes, and the manifest that records every
input's outcome so that a batch can be resumed and split between processes.

    from freecure_edit.batch import BatchSettings, run_batch

    settings = BatchSettings("photos", "cured", prompt="a woman with red hair", config={"steps": 20},
                             models={"model": "path/to/model", "device": "cuda"}, resume=True)
    report = run_batch(settings, on_event=print, stop=threading.Event())   # a BatchReport
    report.exit_code, report.counts, report.failures()

Planning is pure Python, no torch: `dry_run(settings)` plans a batch without loading any model. The
public names are imported when first used, so that importing a part (names.py) loads nothing else.

- settings.py: BatchSettings, one field per `freecure-edit batch` option;
- plan.py: the plan (every input, its prompt, settings and output), all refusals before any model loads;
- dry_listing.py: dry_run, the plan listed, as `--dry-run` prints it;
- run.py: run_batch, in one process or in each of several (launch.py starts them with accelerate);
- item.py: one input cured, its output staged then placed; lines.py: its manifest line;
- item_parameters.py, resume.py: the parameters hashed per input, and what resume keeps;
- stopping.py: the stop hook (between two images) and abandoning the image in progress;
- events.py: what a run reports as it goes; progress.py: the progress of all processes, from the shards;
- outcome.py: the report, the counts by status and the exit code they add up to;
- selection.py: the input files of a folder (`--recursive`, `--glob`);
- layout.py: each input's output path, name collisions resolved predictably;
- folder.py: the output folder's own files (manifest.jsonl, and the working files under .freecure/);
- prompts_file.py: the CSV or JSONL file that gives each image its prompt and settings;
- manifest.py: manifest lines, per-process shards appended durably, and merging them;
- parameters.py: the hash that tells whether an earlier result was made with the same parameters,
  and whether --resume keeps it;
- files.py: what --resume checks of the files behind it (the input's content, the output still opens);
- names.py: file names that are not valid UTF-8, shown readably and kept exactly in the manifest.

A front end: may import the method (cure/), api.py, model_choice.py, overrides.py, failures.py
and the lower layers; never another front end.
"""

# No public name may be a module's name: importing the module would replace it in this namespace.
_PUBLIC = {
    "BatchSettings": "settings", "BatchPlan": "plan", "BatchItem": "plan", "plan_batch": "plan",
    "NoPromptError": "plan", "dry_run": "dry_listing", "run_batch": "run", "BatchReport": "outcome",
    "BatchEvent": "events", "StopControl": "stopping", "BatchStopped": "stopping", "launch_batch": "launch",
    "launched": "launch",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
