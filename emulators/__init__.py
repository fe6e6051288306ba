"""Embedded emulators of the services the rotation service talks to.

They speak the real wire protocols (HTTPS with a sandbox CA, Azure AD bearer JWTs, the IoT Central and
Key Vault REST shapes) so that the product's real clients -- httpx and the Azure SDK -- run unchanged
against them in tests, benchmarks and `make sandbox`. Never deployed (see `.funcignore`).
"""
