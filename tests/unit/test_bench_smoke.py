"""`make bench` keeps working: the whole harness (emulator process, worker processes, counters, pure and
cold-start figures) on a 2 apps x 3 tokens fleet. Asserts the JSON's keys and call counts, never a time."""

from __future__ import annotations

import json
from pathlib import Path

from bench.fleet import main

FLEET_KEYS = {
    "apps",
    "concurrency",
    "wall_s",
    "calls",
    "calls_by_route",
    "network_bound_s",
    "wall_over_bound",
    "limit_bound_s",
    "wall_over_limit_bound",
    "peak_rss_mib",
    "cpu_s",
    "cpu_ms_per_call",
    "wall_over_cpu",
    "emulator_cpu_s",
    "machine_cpu_share",
    "concurrency_1",
    "speed_up_over_concurrency_1",
}


def test_bench_harness_on_a_tiny_fleet(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    assert (
        main(
            [
                "--apps",
                "2",
                "--tokens",
                "3",
                "--concurrency",
                "4",
                "--serial-apps",
                "1",
                "--pure-tokens",
                "500",
                "--cold-runs",
                "1",
                "--ceiling-requests",
                "16",
                "--out",
                str(out),
                "--work",
                str(tmp_path),
            ]
        )
        == 0
    )
    results = json.loads(out.read_text(encoding="utf-8"))
    assert {"rotate", "audit", "pure", "cold_start", "emulator_ceiling_rps", "bench_wall_s"} <= set(results)
    rotate, audit = results["rotate"], results["audit"]
    assert FLEET_KEYS | {"calls_per_rotation", "minimum_calls_per_rotation"} <= set(rotate)
    assert FLEET_KEYS | {"calls_per_app"} <= set(audit)
    assert {"evaluate_small_s", "evaluate_large_s", "evaluate_ratio", "plan_small_s", "plan_large_s"} <= set(
        results["pure"]
    )
    assert set(results["cold_start"]) == {"function_app_s", "azure_functions_s", "ratio"}
    for job in (rotate, audit, rotate["concurrency_1"], audit["concurrency_1"]):
        routes = job["calls_by_route"]
        not_calls = ("identity:", "challenge:")  # token requests and Key Vault's 401 challenges
        assert job["calls"] == sum(n for route, n in routes.items() if not route.startswith(not_calls))
        assert routes["iotc:Devices_List"] == 2 * job["apps"]  # one verification per slot
        # each worker process: one token per scope (IoT Central, Key Vault), one challenge for its one vault
        assert routes["identity:msi.token"] == 2
        assert sum(n for route, n in routes.items() if route.startswith("challenge:")) == 1
    # 4 never-minted slots: one mint, one staging and one promotion write each; the audit writes nothing
    assert rotate["calls_by_route"]["iotc:ApiTokens_Create"] == 4
    assert rotate["calls_by_route"]["kv:SetSecret"] == 8
    assert rotate["minimum_calls_per_rotation"] == 7.5  # docs/protocol.md, never minted, one listing page
    assert rotate["calls_per_rotation"] == rotate["calls"] / 4 == 7.5
    assert not {r for r in audit["calls_by_route"] if r.endswith(("_Create", "_Remove", "SetSecret", "UpdateSecret"))}
