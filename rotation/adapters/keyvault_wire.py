"""Key Vault's answers checked on the wire, before the SDK turns them into objects.

The SDK's deserializer is lenient: it turns a tag value `1` into `"1"`, `"enabled": "yes"` into True and
keeps `"created": "yesterday"` as a string, and a missing `created` becomes None (which the adapter used to
read as 1970). `KeyVaultWirePolicy` sits in the pipeline (a per-retry policy, next to `SameOriginPolicy`)
and refuses any 2xx answer of the operations the service uses that is not JSON, is larger than
`MAX_BODY`, or does not match these strict models (7.6 spec: SecretBundle, SecretItem, SecretListResult).
Identifiers must name a version of a secret (`.../secrets/<name>/<version>`); which vault they name is
checked by the adapter.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from pydantic import Field, StringConstraints

from rotation.adapters.wire import Wire, check_answer, parse
from rotation.errors import WireError

VERSION_ID_PATTERN = r"^https?://[^/?#]+/secrets/[0-9a-zA-Z-]{1,127}/[0-9a-zA-Z]{1,64}$"
_PATH = re.compile(r"^/secrets/(?P<name>[^/]+)(?:/(?P<rest>[^/]*))?/?$")


class WireAttributes(Wire):
    enabled: bool
    created: int
    updated: int | None = None
    exp: int | None = None
    nbf: int | None = None


class WireSecretItem(Wire):
    id: Annotated[str, StringConstraints(pattern=VERSION_ID_PATTERN)]
    attributes: WireAttributes
    tags: dict[str, str] | None = None
    content_type: str | None = Field(default=None, alias="contentType")


class WireSecretBundle(WireSecretItem):
    value: str | None = None


class WireSecretPage(Wire):
    value: list[WireSecretItem]
    next_link: str | None = Field(default=None, alias="nextLink")


def model_for(method: str, path: str) -> type[Wire] | None:
    """The model of a 2xx answer to this request, None for operations the service does not use."""
    match = _PATH.match(path)
    if match is None:
        return None
    rest = match["rest"]
    if method == "GET" and rest == "versions":
        return WireSecretPage
    if (method in ("GET", "PATCH") and rest is not None) or (method == "PUT" and rest is None):
        return WireSecretBundle
    return None


class KeyVaultWirePolicy(SansIOHTTPPolicy[Any, Any]):
    """Raises `WireError` (outside azure-core's retry, never believed) for a 2xx answer that is not valid."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        http_request, http_response = request.http_request, response.http_response
        if not 200 <= http_response.status_code < 300:
            return
        method = http_request.method.upper()
        path = urlsplit(http_request.url).path
        what = f"{self.what}: {method} {path}"
        content_type = http_response.headers.get("Content-Type")
        try:
            body = http_response.body()
        except (AzureError, OSError, ValueError) as exc:  # not read, or broken off: no answer
            raise WireError(f"{what}: got an unreadable body ({type(exc).__name__}), expected JSON") from None
        model = model_for(method, path)
        if model is None:
            if body:
                check_answer(body, content_type, what)
            return
        parse(model, body, content_type, what)
