"""Integration fixtures: the session-wide `azurite` fixture lives in tests/conftest.py (e2e tests use it too)."""
