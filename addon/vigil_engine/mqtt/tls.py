"""The TLS context for a broker connection (Frigate's events in, Vigil's events out)."""

from __future__ import annotations

import ssl

from ..config import MqttTls


def tls_context(tls: MqttTls | None) -> ssl.SSLContext | None:
    """None for plain MQTT. Built once per client (reading the CA file blocks briefly)."""
    if tls is None:
        return None
    context = ssl.create_default_context(
        cafile=str(tls.ca_cert) if tls.ca_cert is not None else None)
    if tls.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
