"""The Frigate bridge: Frigate's MQTT events and HTTP clips in, Vigil's risk out."""
