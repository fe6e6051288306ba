"""The IoT Central data-plane emulator: many applications on one loopback HTTPS server.

`IoTCentralEmulator` serves the REST API (routes named after the spec's operationIds); `IoTCentralApp`
is one application with its pure-Python seeding API. `roles` documents the permission model,
`emulator` the assumptions made where the real service is undocumented.

Run alone: ``python -m emulators.iotcentral`` serves one demo application.
"""

from emulators.iotcentral.access import AUDIENCE
from emulators.iotcentral.app import TOKEN_LIFETIME, ConflictError, IoTCentralApp
from emulators.iotcentral.emulator import API_VERSIONS, DEFAULT_API_VERSION, ExpiryPolicy, IoTCentralEmulator
from emulators.iotcentral.entities import ApiTokenInfo, Device, Organization, User
from emulators.iotcentral.roles import (
    ADMINISTRATOR,
    BUILDER,
    OPERATOR,
    ORG_ADMIN,
    ORG_OPERATOR,
    ORG_VIEWER,
    PERMISSIONS,
    Role,
    RoleAssignment,
)

__all__ = [
    "ADMINISTRATOR",
    "API_VERSIONS",
    "AUDIENCE",
    "BUILDER",
    "DEFAULT_API_VERSION",
    "OPERATOR",
    "ORG_ADMIN",
    "ORG_OPERATOR",
    "ORG_VIEWER",
    "PERMISSIONS",
    "TOKEN_LIFETIME",
    "ApiTokenInfo",
    "ConflictError",
    "Device",
    "ExpiryPolicy",
    "IoTCentralApp",
    "IoTCentralEmulator",
    "Organization",
    "Role",
    "RoleAssignment",
    "User",
]
