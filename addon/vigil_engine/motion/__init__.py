"""Cheap change detection that decides when and where detection runs."""
