"""`freecure-edit ui`: a local web page over the cure service (install with `pip install
'freecure-edit[ui]'`). `build_app(fc)` gives the ASGI application for a FreeCure already loaded."""

from freecure_edit.ui.server import build_app, explain_prompt

__all__ = ["build_app", "explain_prompt"]
