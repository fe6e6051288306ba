"""A nextLink names the app's host in any case and with or without the default port: followed. Another
host is still refused (our credential would go there)."""

from __future__ import annotations

import pytest

from rotation.adapters.origin import Origin
from rotation.errors import ForeignOriginError

APP = Origin.of("https://contoso.azureiotcentral.com")


@pytest.mark.parametrize(
    "link",
    [
        "https://CONTOSO.AzureIoTCentral.com:443/api/apiTokens?$skiptoken=x",
        "https://contoso.azureiotcentral.com./api/apiTokens",
        "HTTPS://contoso.azureiotcentral.com/api/apiTokens",
    ],
)
def test_the_apps_own_host_is_followed(link: str) -> None:
    assert APP.check(link, "apiTokens: nextLink") == link


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example.com/api/apiTokens",
        "https://contoso.azureiotcentral.com:8443/api/apiTokens",
        "http://contoso.azureiotcentral.com/api/apiTokens",
    ],
)
def test_a_foreign_origin_is_refused(link: str) -> None:
    with pytest.raises(ForeignOriginError, match="refused, not sent"):
        APP.check(link, "apiTokens: nextLink")
