"""The method, FreeCure on an existing photo, and its data: pipeline.py runs it in numbered steps
(invert, foundation branch, masks, FASA and APG, decode); config.py holds every knob, result.py what a
cure returns, estimate.py and phases.py what it will cost, callbacks.py how a front end watches it.

May import the lower layers (errors, prompts, schedules, models, backbones, inversion, attention, masks,
faces, imageio): never api.py or a front end (cli, batch, worker, service, ui, doctor, evaluation).
"""
