"""`taxiway dispatcher`: run the work of API servers (TAXIWAY_EXECUTOR=ray) on an existing Ray cluster."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def dispatcher(
    ray_address: Annotated[
        str | None,
        typer.Option(
            envvar="TAXIWAY_RAY_ADDRESS",
            help="The Ray cluster to connect to: its head's GCS address (host:6379), 'auto' on a "
            "cluster node, or a ray:// client address.",
            show_default=False,
        ),
    ] = None,
    cpu_slots: Annotated[
        int | None,
        typer.Option(min=0, help="Actors for classical engines (default: TAXIWAY_RAY_CPU_SLOTS, else 1)."),
    ] = None,
    gpu_slots: Annotated[
        int | None,
        typer.Option(min=0, help="Actors with one GPU each (default: TAXIWAY_RAY_GPU_SLOTS, else 0)."),
    ] = None,
    cpus_per_slot: Annotated[
        float | None,
        typer.Option(min=0.01, help="CPUs each actor reserves (default: TAXIWAY_RAY_CPUS_PER_SLOT, else 1)."),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(help="Ray namespace of the actors (default: TAXIWAY_RAY_NAMESPACE, else taxiway)."),
    ] = None,
    no_neural: Annotated[
        bool,
        typer.Option(
            "--no-neural",
            help="Never claim neural tasks: leave them to dispatchers with GPU slots "
            "(TAXIWAY_RUN_NEURAL=false).",
        ),
    ] = False,
) -> None:
    """Run tasks on a Ray cluster: claim them from the database and run them on long-lived actors."""
    # Imported here so that `taxiway --help` and the client commands never load Ray or the server.
    from taxiway.cli.startup import load_settings

    settings = load_settings(
        ray_address=ray_address,
        ray_cpu_slots=cpu_slots,
        ray_gpu_slots=gpu_slots,
        ray_cpus_per_slot=cpus_per_slot,
        ray_namespace=namespace,
        run_neural=False if no_neural else None,
    )
    if not settings.ray_address:
        err.print("[red]error:[/red] no Ray cluster given: pass --ray-address or set TAXIWAY_RAY_ADDRESS")
        raise typer.Exit(2)
    if settings.ray_cpu_slots + settings.ray_gpu_slots == 0:
        err.print("[red]error:[/red] no worker slots: set --cpu-slots and/or --gpu-slots to at least 1")
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        from taxiway.executors.ray.dispatcher import run_dispatcher
    except ImportError as exc:
        err.print(f"[red]error:[/red] Ray is not installed ({exc}); pip install 'taxiway[ray]'")
        raise typer.Exit(2) from None
    raise typer.Exit(run_dispatcher(settings))
