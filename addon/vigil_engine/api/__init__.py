"""HTTP API: REST for events, cameras and media; bearer-token auth."""
