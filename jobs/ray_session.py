"""Start or attach to Ray: bounded and loopback-only on a laptop, the job's cluster under ``ray job submit``."""

from __future__ import annotations

import logging
import os
import sys

import ray
import ray.data
from ray._private import ray_constants

from jobs.config import RayConfig
from jobs.ray_steps import SHUFFLES

log = logging.getLogger("corpusmill")


def start_ray(cfg: RayConfig, address: str | None = None) -> int:
    """Initialize Ray once per process and return the CPUs this run may use."""
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            # Ray's single-machine mode: every service binds to 127.0.0.1, none to the host address.
            # Ray reads the switch at import, so set it for child processes and for this one.
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
            ray_constants.ENABLE_RAY_CLUSTER = False
            system_config = {}
            if cfg.spill_dir:
                os.makedirs(cfg.spill_dir, exist_ok=True)
                system_config["object_spilling_config"] = (
                    f'{{"type": "filesystem", "params": {{"directory_path": "{cfg.spill_dir}"}}}}'
                )
            ray.init(
                num_cpus=local_slots(cfg.num_cpus or os.cpu_count() or 1),
                object_store_memory=cfg.object_store_mb << 20,
                include_dashboard=cfg.dashboard,
                dashboard_host="127.0.0.1",
                logging_level=logging.WARNING,
                _system_config=system_config or None,
            )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = sys.stderr.isatty()
    ctx.print_on_execution_start = False
    ctx.shuffle_input_batch_bytes = cfg.shuffle_batch_mb << 20
    for name, value in SHUFFLES[cfg.shuffle].items():
        setattr(ctx, name, value)
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def local_slots(cpus: int) -> int:
    """Ray CPU slots for a local run: at least 2, so that a shuffle's aggregator actor and the tasks
    that feed it can hold slots at once; on a single core the two slots share it."""
    return max(2, cpus)
