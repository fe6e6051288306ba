"""`rotation serve --metrics-port`: a real Prometheus scrape of /metrics (text format, our counters and the
expiry gauge after a rotation), /healthz while the scheduler runs; and the OTLP/HTTP exporter posting to a
collector on loopback when OTEL_EXPORTER_OTLP_ENDPOINT is set. Waits are on log lines and on the collector's
first request, with generous overall timeouts; no sleeps."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from emulators.sandbox import RunningWorld
from tests.e2e.test_serve import Event, _env, _finished, serving

YEARLY = "0 0 0 1 1 *"


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 -- loopback, our own endpoint
            return answer.status, answer.headers.get("Content-Type", ""), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def _port(events: list[Event]) -> int:
    return int(next(e["port"] for e in events if e.get("event") == "metrics_listening"))


def test_metrics_and_healthz_are_scraped_while_serving(world: RunningWorld, tmp_path: Path) -> None:
    env = _env(world, tmp_path, revoke=YEARLY, audit=YEARLY)  # rotate every second
    with serving(env, tmp_path / "jobs.sqlite", "--metrics-port", "0") as serve:
        serve.wait_for(lambda events: any(e.get("event") == "metrics_listening" for e in events), "metrics_listening")
        serve.wait_for(_finished("rotate"), "a finished rotate")
        base = f"http://127.0.0.1:{_port(serve.events)}"
        status, content_type, text = _get(f"{base}/metrics")
        health_status, _, health = _get(f"{base}/healthz")
        missing, _, _ = _get(f"{base}/other")
        assert serve.stop() == 0
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "# TYPE rotation_tokens_minted_total counter" in text
    assert 'rotation_tokens_minted_total{app="contoso-fleet",job="rotate"' in text
    assert "rotation_slot_days_until_expiry" in text
    assert health_status == 200
    assert json.loads(health)["status"] == "ok"
    assert set(json.loads(health)["next_runs"]) == {"rotate", "revoke", "audit"}
    assert missing == 404


class _Collector(BaseHTTPRequestHandler):
    received: queue.Queue[tuple[str, str, int]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.put((self.path, self.headers.get("Content-Type", ""), len(body)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 -- the stdlib's signature
        pass


@contextmanager
def _collector() -> Iterator[tuple[str, queue.Queue[tuple[str, str, int]]]]:
    received: queue.Queue[tuple[str, str, int]] = queue.Queue()
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()


def test_otlp_exports_metrics_to_the_configured_collector(world: RunningWorld, tmp_path: Path) -> None:
    with _collector() as (endpoint, received):
        env = {
            **_env(world, tmp_path, revoke=YEARLY, audit=YEARLY),
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        }
        with serving(env, tmp_path / "jobs.sqlite") as serve:
            serve.wait_for(_finished("rotate"), "a finished rotate")
            path, content_type, size = received.get(timeout=120)
            assert serve.stop() == 0
    assert path == "/v1/metrics"
    assert content_type == "application/x-protobuf"
    assert size > 0


def test_a_plaintext_otlp_endpoint_off_loopback_is_refused(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "NO_COLOR": "1",
        "ROTATION_POLICIES": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.example.com:4318",
    }
    done = subprocess.run(  # noqa: S603 -- our own CLI, fixed arguments
        [sys.executable, "-m", "rotation", "serve", "--store", str(tmp_path / "s.sqlite")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert (
        "OTEL_EXPORTER_OTLP_ENDPOINT: got 'http://collector.example.com:4318', expected an https:// URL" in done.stderr
    )
    assert "Traceback" not in done.stderr
