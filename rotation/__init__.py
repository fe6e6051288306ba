"""The rotation service: short-lived, audited Azure IoT Central API tokens kept in Azure Key Vault."""

__version__ = "0.1.0"
