"""Batches of photos: which files to cure, where each output goes, and the manifest that records every
input's outcome so that a batch can be resumed and split between processes.

Pure Python, no torch: `freecure-edit batch --dry-run` plans a batch without loading any model.

- selection.py: the input files of a folder (`--recursive`, `--glob`);
- layout.py: each input's output path, name collisions resolved predictably;
- folder.py: the output folder's own files (manifest.jsonl, and the working files under .freecure/);
- prompts_file.py: the CSV or JSONL file that gives each image its prompt and settings;
- manifest.py: manifest lines, per-process shards appended durably, and merging them;
- parameters.py: the hash that tells whether an earlier result was made with the same parameters,
  and whether --resume keeps it;
- files.py: what --resume checks of the files behind it (the input's content, the output still opens);
- names.py: file names that are not valid UTF-8, shown readably and kept exactly in the manifest.
"""
