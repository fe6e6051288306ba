"""`rotation.consumer`: what an application that reads a rotated token (a store or fleet management app)
needs to keep working across rotations, with nothing but azure-keyvault-secrets and httpx.

The contract (docs/consumer.md): read the *latest* version of the slot's secret `iotc-<app>-<slot>`,
cache it for at most `max_age` (below the slot's grace period), and on a 401 from IoT Central re-read it
once and retry the request once. A value read at time R keeps working until at least R + grace (its
successor is promoted after R, and the service revokes a superseded token only once its grace has
passed), so a cache younger than the grace never holds a revoked token in normal operation; the 401 path
covers incidents (`rotation revoke-now`, a token deleted by hand).

    from azure.identity import DefaultAzureCredential
    from rotation.consumer import IoTCentralAuth, KeyVaultTokenReader, TokenCache, build_consumer_secret_client

    client = build_consumer_secret_client("https://my-vault.vault.azure.net", DefaultAzureCredential())
    cache = TokenCache(KeyVaultTokenReader(client, "iotc-contoso-fleet-dashboard-reader"),
                       max_age=timedelta(hours=6), grace=timedelta(hours=24))
    with httpx.Client(base_url=app_url, auth=IoTCentralAuth(cache, app_url)) as http:
        http.get("/api/devices", params={"api-version": "2022-07-31"})

Nothing here imports the engine, the hosting layer, pydantic or the policy loader: a consumer installs
only what it uses.
"""

from rotation.consumer.auth import IoTCentralAuth
from rotation.consumer.cache import CachedToken, TokenCache
from rotation.consumer.contract import APP_SERVICE_REFERENCE_REFRESH, grace_warning
from rotation.consumer.vault import KeyVaultTokenReader, build_consumer_secret_client

__all__ = [
    "APP_SERVICE_REFERENCE_REFRESH",
    "CachedToken",
    "IoTCentralAuth",
    "KeyVaultTokenReader",
    "TokenCache",
    "build_consumer_secret_client",
    "grace_warning",
]
