"""Object detection: LiteRT model, region planning, shared detector pool."""
