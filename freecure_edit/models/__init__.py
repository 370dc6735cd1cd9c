"""The models: loading SD 1.5, SDXL and FLUX from a Hub id, a local folder or a single file (loading.py,
flux.py, flux_bfl.py), each family's own settings (defaults.py, family.py), devices and precision, and
where models are found on disk (locations.py), and whether those a command needs are there or can
still be downloaded (presence.py).

May import errors.py and the libraries only: never the method (cure/) or a front end.
"""
