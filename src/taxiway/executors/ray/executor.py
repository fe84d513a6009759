"""The Ray executor: a fixed set of slots, each a long-lived actor on an existing Ray cluster.

It satisfies the same interface as the local executor (executors/base.py), so the scheduler that
claims, renews leases and applies cancels is the very same code in `taxiway serve` and in
`taxiway dispatcher`.
"""

from __future__ import annotations

import ray

from taxiway.context import AppContext
from taxiway.core.settings import Settings
from taxiway.executors.base import SlotPool
from taxiway.executors.ray.actor import SlotWorker
from taxiway.executors.ray.slot import RaySlot, SlotSpec
from taxiway.worker.contract import worker_settings


def slot_specs(settings: Settings) -> list[SlotSpec]:
    """CPU slots for classical engines, then GPU slots (one GPU each) for neural ones."""
    cpus = settings.ray_cpus_per_slot
    return [SlotSpec(f"cpu-{index}", cpus, 0) for index in range(settings.ray_cpu_slots)] + [
        SlotSpec(f"gpu-{index}", cpus, 1) for index in range(settings.ray_gpu_slots)
    ]


class RayExecutor(SlotPool[RaySlot]):
    """One RaySlot per configured slot, all owned by this (dispatcher) process."""

    def __init__(self, ctx: AppContext, specs: list[SlotSpec]) -> None:
        actor_class = ray.remote(SlotWorker)
        data = worker_settings(ctx.settings)
        slots = [RaySlot(ctx, spec, actor_class, data) for spec in specs]
        super().__init__(slots, run_neural=ctx.settings.run_neural)
