"""Event lifecycle: open on confirmed activity, collect objects, close when idle."""
