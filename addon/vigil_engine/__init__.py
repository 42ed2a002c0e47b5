"""Vigil engine: IP cameras in, tracked and risk-scored security events out."""

__version__ = "0.1.0"
