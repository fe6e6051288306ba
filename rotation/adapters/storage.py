"""What the Azure Storage adapters (report blobs, lease blobs, fan-out queues) share: one error shape and
creating a container on first use."""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.blob import ContainerClient

from rotation.errors import ServiceError


def storage_error(what: str, exc: AzureError) -> ServiceError:
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    code = getattr(exc, "error_code", None) if isinstance(exc, HttpResponseError) else None
    detail = f"HTTP {status} {code or ''}".strip() if status else type(exc).__name__
    return ServiceError(f"{what}: got {detail}, expected success", status=status, code=code)


def ensure_container(container: ContainerClient, what: str) -> None:
    """Creates the container unless it exists (in Azure the template made it already)."""
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    except AzureError as exc:
        raise storage_error(f"create {what} container {container.container_name}", exc) from None
