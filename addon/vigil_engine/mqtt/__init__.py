"""MQTT out: every event change under a topic prefix, for Node-RED and MQTT-only users."""
