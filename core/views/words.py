"""Kept for views and pages written against the old place: the words now live in core.engine.words."""

from core.engine.words import format_seconds, plural

__all__ = ["format_seconds", "plural"]
