"""Kept for views and pages written against the old place: the curves now live in core.engine.curves."""

from core.engine.curves import MAX_POINTS, RECENT, Curve, downsample, finite_or_none, loss_curve

__all__ = ["MAX_POINTS", "RECENT", "Curve", "downsample", "finite_or_none", "loss_curve"]
