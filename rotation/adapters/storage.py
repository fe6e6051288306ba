"""What the Azure Storage adapters (report blobs, lease blobs, fan-out queues) share: how a client is
built, one error shape, and creating a container on first use.

Every storage client gets `storage_options`: no redirects, the connect/read timeouts, the same-origin
check (`SameOriginPolicy` as the request hook) and ONE retry policy, `STORAGE_RETRY`: a few quick
exponential retries (the SDK default, 15 s initial backoff, would hold a timer invocation for minutes).
The storage SDK retries every method on 408, on 5xx but 501/505 and on connection and read errors; a
repeated write is harmless here: a report blob is created with `overwrite=False` (a retry after success
answers 409, reported as an error, the report being there), a lease acquire retried after success answers
409 (the app is skipped this run; the lease lapses within its duration), a queue message may be sent twice
(duplicates are harmless, see `rotation.hosting.fanout`: each run plans from what it observes, under the app's lease).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Protocol, Self

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.blob import ContainerClient

from rotation.adapters.errors import sdk_error
from rotation.adapters.origin import SameOriginPolicy
from rotation.adapters.sdk import DEFAULT_TIMEOUT, client_options
from rotation.errors import ServiceError


class MessageQueue(Protocol):
    """What the fan-out uses of a queue client (`azure.storage.queue.QueueClient` implements it)."""

    @property
    def url(self) -> str: ...

    def create_queue(self, **kwargs: Any) -> None: ...
    def send_message(self, content: Any, **kwargs: Any) -> Any: ...
    def peek_messages(self, max_messages: int | None = None, **kwargs: Any) -> list[Any]: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


STORAGE_RETRY: dict[str, Any] = {"initial_backoff": 1, "increment_base": 2, "retry_total": 2}


def storage_options(
    retry_class: type[Any], origin: SameOriginPolicy, *, timeout: float = DEFAULT_TIMEOUT, logging_enable: bool = False
) -> dict[str, Any]:
    """Keyword arguments for a blob or queue client. `retry_class` is that package's `ExponentialRetry`.
    The storage logging policy redacts credentials and hides bodies, so `logging_enable` is safe here."""
    return {
        **client_options(timeout),
        "retry_policy": retry_class(**STORAGE_RETRY),
        "raw_request_hook": origin,
        "logging_enable": logging_enable,
    }


def build_queue_client(
    name: str,
    *,
    queue_url: str | None,
    connection_string: str | None,
    credential: Any,
    decode: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    logging_enable: bool = False,
) -> MessageQueue:
    """A queue client, base64 text as the Functions queue trigger reads and writes it (`decode=False`:
    contents as stored, for reading messages that someone else may have written)."""
    from azure.storage.queue import (  # noqa: PLC0415 -- only the queue fan-out needs it
        ExponentialRetry,
        QueueClient,
        TextBase64DecodePolicy,
        TextBase64EncodePolicy,
    )

    origin = SameOriginPolicy(None, f"queue {name}")
    options: dict[str, Any] = {
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy() if decode else None,
        **storage_options(ExponentialRetry, origin, timeout=timeout, logging_enable=logging_enable),
    }
    if connection_string:
        queue = QueueClient.from_connection_string(connection_string, name, **options)
    else:
        queue = QueueClient(queue_url or "", name, credential=credential, **options)
    origin.bind(queue.url)
    return queue


def storage_error(what: str, exc: AzureError) -> ServiceError:
    """The one mapper's answer (`rotation.adapters.errors`): a refused credential is an AuthError here too."""
    return sdk_error(what, exc, ", expected success")


def ensure_container(container: ContainerClient, what: str) -> None:
    """Creates the container unless it exists (in Azure the template made it already)."""
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    except AzureError as exc:
        raise storage_error(f"create {what} container {container.container_name}", exc) from None
