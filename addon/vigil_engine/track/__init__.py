"""Object tracking: stable ids, confirmation, stationary state, zones, loitering."""
