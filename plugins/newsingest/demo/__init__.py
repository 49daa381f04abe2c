"""Bundled demo news sites and a local fault-injecting HTTP server for offline runs and tests."""
