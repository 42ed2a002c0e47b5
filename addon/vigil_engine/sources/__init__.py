"""Inputs other than Vigil's own cameras."""
