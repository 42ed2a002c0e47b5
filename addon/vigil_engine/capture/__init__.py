"""Camera input: PyAV demux/decode in a thread, reconnect forever, sampled frames out."""
