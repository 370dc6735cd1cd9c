"""Krita's entry point for the FreeCure plug-in: registers the extension (see extension.py)."""

from krita import Krita

from .extension import FreeCureExtension

Krita.instance().addExtension(FreeCureExtension(Krita.instance()))
