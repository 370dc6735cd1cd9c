"""`freecure-edit ui`: a local web page over the cure service (install with `pip install
'freecure-edit[ui]'`). `build_app(fc)` gives the ASGI application for a FreeCure already loaded.

A front end: may import service/, overrides.py, failures.py, explain.py, the method and the lower
layers.
"""

from freecure_edit.ui.server import build_app, explain_prompt

__all__ = ["build_app", "explain_prompt"]
