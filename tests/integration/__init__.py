"""Tests for the Home Assistant integration, against a real engine process."""
