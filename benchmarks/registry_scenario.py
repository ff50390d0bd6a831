"""The registry scenario both sides of bench_registry.py run: same calls, same sizes.

Works with any client that has MLflow's MlflowClient registry methods (lakeml's
Client does), so lakeml and MLflow are measured by one piece of code.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def _median_ms(call: Callable[[], Any], repeat: int) -> float:
    call()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def run(client: Any, register: Callable[[str, str], Any], source: str, versions: int,
        resolve: Callable[[str], str]) -> dict[str, float]:
    """Register ``versions`` versions of one model one call at a time, then time reads.

    ``register(source, name)`` registers one version; ``resolve(uri)`` turns a
    ``models:/`` URI into the storage location, as a loader does.
    """
    name = "bench-model"
    times = []
    for _ in range(versions):
        t0 = time.perf_counter()
        register(source, name)
        times.append(time.perf_counter() - t0)
    client.transition_model_version_stage(name, versions // 2, "Production")
    client.transition_model_version_stage(name, versions - 1, "Staging")
    client.set_registered_model_alias(name, "champion", versions)
    latest = client.get_latest_versions(name, ["Production"])
    assert [int(v.version) for v in latest] == [versions // 2], latest
    return {
        "versions": versions,
        "register_ms_mean": statistics.mean(times) * 1e3,
        "register_ms_first100": statistics.mean(times[:100]) * 1e3,
        "register_ms_last100": statistics.mean(times[-100:]) * 1e3,
        "latest_production_ms": _median_ms(
            lambda: client.get_latest_versions(name, ["Production"]), 50),
        "alias_resolve_ms": _median_ms(lambda: resolve(f"models:/{name}@champion"), 50),
        "stage_resolve_ms": _median_ms(lambda: resolve(f"models:/{name}/Production"), 50),
    }
