"""Thin ipywidgets layers over the pure functions of the layers below (no rules or numbers of their own)."""
