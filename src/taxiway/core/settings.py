"""Settings from the environment (TAXIWAY_*) and an optional TOML file, built once per app."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from taxiway.core.keys import check_key
from taxiway.core.model_config import OPERATIONS, ModelConfig, SpandrelModel

MODEL_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _default_workers() -> int:
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Everything an operator can set. Embedded defaults: SQLite and blobs under `data_dir`."""

    model_config = SettingsConfigDict(env_prefix="TAXIWAY_", extra="ignore")

    # Where all state lives when no database URL or blob root is given.
    data_dir: Path = Path("./taxiway-data")
    # SQLAlchemy URL; empty means SQLite at <data_dir>/taxiway.db.
    database_url: str = ""
    # Local blob root; empty means <data_dir>/blobs.
    blob_dir: Path | None = None
    # Where assets and artifacts live: "local" (blob_dir, served by the API) or "s3" (presigned links).
    blob_backend: Literal["local", "s3"] = "local"
    # Base URL put in asset links sent by webhooks (API responses use the request's own base URL).
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000

    # Execution: "local" runs supervised worker processes inside `taxiway serve`;
    # "ray" makes `taxiway serve` API-only while `taxiway dispatcher` runs the work on a Ray cluster;
    # "none" makes this process API-only (another process claims the work).
    executor: Literal["local", "ray", "none"] = "local"
    # Local worker processes for the classic engines (0: this server runs no work).
    workers: int = Field(default_factory=_default_workers, ge=0)
    # Local worker processes for neural models, each pinned to one GPU (round robin). While both
    # kinds exist, each runs only its own kind of task. Unset: none without a neural model (or with
    # workers = 0); else one per GPU torch sees, or one when it sees none.
    neural_workers: int | None = Field(default=None, ge=0)
    # False: this server's workers (or this dispatcher's slots) never claim a neural task and leave
    # them to dispatchers with GPU slots, e.g. a CPU machine in a fleet. Default: claim both kinds.
    run_neural: bool = True
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    task_time_limit_seconds: float = Field(default=4 * 3600.0, gt=0)
    scheduler_interval_seconds: float = Field(default=0.5, gt=0)
    # How long a worker gets to honour a cancel before its process is killed.
    cancel_grace_seconds: float = Field(default=5.0, gt=0)

    # Ray (`taxiway dispatcher`): the cluster to connect to, e.g. "10.0.0.5:6379", "auto", or "ray://…".
    ray_address: str = ""
    # Ray namespace the dispatcher's actors live in.
    ray_namespace: str = "taxiway"
    # One long-lived actor per slot: CPU slots for classical engines, GPU slots (num_gpus=1) for neural
    # ones. While a dispatcher has both, each runs only its own kind of task.
    ray_cpu_slots: int = Field(default=1, ge=0)
    ray_gpu_slots: int = Field(default=0, ge=0)
    # CPUs each slot's actor reserves (GPU slots too: encoding runs on the CPU, the H100 has no NVENC).
    ray_cpus_per_slot: float = Field(default=1.0, gt=0)

    # Uploads.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    max_video_pixels: int = Field(default=8192 * 8192, gt=0)
    signed_url_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # Under this much free space (MB) on a local store (scratch, local files, SQLite), uploads and new
    # tasks are refused with 507 before they start; /health reports each store. 0: no floor.
    min_free_disk_mb: int = Field(default=500, ge=0)
    # Key for signing download links; several API servers must share one. Empty: <data_dir>/secret.key.
    secret_key: str = ""

    # S3-compatible storage (blob_backend = "s3"): AWS, MinIO, SeaweedFS, R2, ...
    s3_bucket: str = ""
    # Keys are stored under this prefix inside the bucket ("" = the bucket's root).
    s3_prefix: str = ""
    # Empty means AWS itself; set it for any other S3-compatible service.
    s3_endpoint_url: str = ""
    # The address presigned links name, when clients reach the store differently from the servers.
    s3_public_endpoint_url: str = ""
    # Empty means boto3's default (AWS_REGION, ~/.aws/config, else us-east-1).
    s3_region: str = ""
    # Both empty means boto3's default credential chain (environment, ~/.aws, instance role).
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # "path" suits most self-hosted stores; "auto" lets boto3 choose (virtual hosts on AWS).
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Create the bucket at startup if it is missing (else a missing bucket stops the server).
    s3_create_bucket: bool = False
    # Uploads above this size go as multipart, in parts of this size (S3's minimum part is 5 MiB).
    s3_multipart_part_bytes: int = Field(default=64 * 1024**2, ge=5 * 1024**2)

    # Credits.
    default_credits: int = Field(default=1000, ge=0)
    # The plan of a new account. Unlimited: exploreMode: true is free (run after paid work), so the
    # contract's own examples, which send it, work on a fresh install; standard: such a request
    # answers 412 and every task is paid in credits.
    default_plan: Literal["standard", "unlimited"] = "unlimited"
    # What a new account may store (uploads and artifacts), in GB of 10⁹ bytes: features.storageGB.
    default_storage_gb: float = Field(default=500.0, ge=0)
    credits_per_second_upscale: float = Field(default=2.0, ge=0)
    credits_per_second_gen3turbo: float = Field(default=5.0, ge=0)
    credits_per_second_gen3: float = Field(default=10.0, ge=0)

    # Callbacks.
    allow_private_callbacks: bool = False
    webhook_progress_interval_seconds: float = Field(default=5.0, ge=0)
    webhook_retry_horizon_seconds: float = Field(default=6 * 3600.0, ge=3600.0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Terminal callbacks are retried after this, doubling each time up to 30 minutes.
    webhook_first_retry_seconds: float = Field(default=5.0, gt=0)

    # Event streams (GET tasks/{taskId}/events and GET events). How often each API process reads what
    # changed (one query, and only while a stream is open): a stream sends at most one event per
    # task per interval, always the latest state.
    event_poll_interval_seconds: float = Field(default=0.25, gt=0)
    # A comment line (": ping") this often while nothing happens, so clients and proxies see the
    # stream is alive.
    event_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Lifetime of the signed stream links (POST events/links), checked when a stream opens.
    event_link_ttl_seconds: int = Field(default=300, gt=0)

    # Live previews: a running task's previewUrls show one of its output frames, refreshed at most
    # this often (seconds; each costs a JPEG encode and a blob write). 0: no live previews.
    preview_interval_seconds: float = Field(default=3.0, ge=0)

    # Prometheus metrics (GET /metrics). Off: no route, no port, no request timing.
    metrics_enabled: bool = True
    # When set, /metrics answers only requests with "Authorization: Bearer <metrics_token>" (401 else).
    metrics_token: str = ""
    # When set, /metrics is served on this port of `host` only (the API's /metrics is then a 404).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # A scrape waits at most this long for the database's figures; past it (or when the database
    # fails) it serves the process figures alone and counts a collector error.
    metrics_database_timeout_seconds: float = Field(default=3.0, gt=0)

    # Classic engine encoder settings (libx264).
    x264_preset: str = "veryfast"
    x264_crf: int = Field(default=18, ge=0, le=51)
    # Classic upscale: unsharp mask strength after Lanczos (0 = off; 0.3–0.8 is mild).
    upscale_sharpen: float = Field(default=0.0, ge=0, le=2)

    # Neural engines (the `neural` extra). Models by name (see core/model_config.py); a relative
    # path is looked up in models_dir (empty: <data_dir>/models).
    models_dir: Path | None = None
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    # Operation -> the model it runs when a request names none ("classic" for the classic engine).
    # Unset operations run the first model that serves them, else the classic engine.
    default_models: dict[str, str] = Field(default_factory=dict)
    # Neural models a worker keeps loaded at once; loading another unloads the least recently used.
    resident_models: int = Field(default=1, ge=1)
    # Shorthand for one spandrel model named after its file, the upscale default:
    # a single-image super-resolution checkpoint (.pth / .safetensors: Real-ESRGAN, SwinIR, HAT, ...).
    upscale_model: str = ""
    # Where neural engines run: "auto" = CUDA when available, else the CPU.
    neural_device: Literal["auto", "cpu", "cuda"] = "auto"
    # Frames per model call; tiles (when a frame is larger than sr_tile_size) go one frame at a time.
    sr_batch_size: int = Field(default=4, ge=1)
    # Frames with a side over this many input pixels go through the model in tiles this big (0 = never).
    sr_tile_size: int = Field(default=512, ge=0)
    # Input pixels each tile borrows from its neighbours, so that seams do not show.
    sr_tile_overlap: int = Field(default=16, ge=0)

    @field_validator("public_url", "s3_endpoint_url", "s3_public_endpoint_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("s3_prefix")
    @classmethod
    def _check_s3_prefix(cls, value: str) -> str:
        prefix = value.strip("/")
        if prefix:
            check_key(prefix)
        return prefix

    @field_validator("models")
    @classmethod
    def _check_model_names(cls, value: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        for name in value:
            if not MODEL_NAME.fullmatch(name) or name == "classic":
                raise ValueError(
                    f"model name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (and not 'classic')"
                )
        return value

    @model_validator(mode="after")
    def _check_default_models(self) -> Settings:
        for operation, name in self.default_models.items():
            if operation not in OPERATIONS:
                raise ValueError(
                    f"default_models: unknown operation {operation!r}; known: {', '.join(OPERATIONS)}"
                )
            if name == "classic":
                continue
            config = self.all_models.get(name)
            if config is None:
                raise ValueError(
                    f"default_models.{operation} names {name!r}, which is not a configured model"
                )
            if operation not in config.serves():
                raise ValueError(
                    f"default_models.{operation} names {name!r}, which does not serve {operation}"
                )
        return self

    @model_validator(mode="after")
    def _check_run_neural(self) -> Settings:
        if self.run_neural:
            return self
        if self.neural_workers:
            raise ValueError("neural_workers is set but run_neural is false: those workers would never run")
        if self.ray_gpu_slots:
            raise ValueError("ray_gpu_slots is set but run_neural is false: those slots would never run")
        return self

    @model_validator(mode="after")
    def _check_metrics_port(self) -> Settings:
        if self.metrics_port is not None and self.metrics_port == self.port:
            raise ValueError(
                f"metrics_port is {self.metrics_port}, the API's own port: give metrics a port of their "
                "own, or unset metrics_port to serve /metrics on the API's port"
            )
        return self

    @model_validator(mode="after")
    def _check_s3(self) -> Settings:
        if self.blob_backend != "s3":
            return self
        if not self.s3_bucket:
            raise ValueError("blob_backend is 's3' but no bucket is set: set s3_bucket (TAXIWAY_S3_BUCKET)")
        if bool(self.s3_access_key_id) != bool(self.s3_secret_access_key):
            raise ValueError(
                "set both s3_access_key_id and s3_secret_access_key, or neither "
                "(to use boto3's default credential chain)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, environment, then the TOML file named by TAXIWAY_CONFIG.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_path = os.environ.get("TAXIWAY_CONFIG")
        if config_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_path))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'taxiway.db').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return (self.blob_dir or self.data_dir / "blobs").resolve()

    @property
    def upscale_model_name(self) -> str | None:
        """The name the ``upscale_model`` shorthand's model goes by: its file name (None if unset)."""
        return Path(self.upscale_model).name if self.upscale_model else None

    @property
    def all_models(self) -> dict[str, ModelConfig]:
        """``models``, after the model ``upscale_model`` names (called by its file name), if set."""
        name = self.upscale_model_name
        if name is None:
            return dict(self.models)
        shorthand = SpandrelModel(engine="spandrel", path=Path(self.upscale_model))
        return {name: shorthand} | {k: v for k, v in self.models.items() if k != name}

    @property
    def resolved_models_dir(self) -> Path:
        return (self.models_dir or self.data_dir / "models").resolve()

    @property
    def scratch_dir(self) -> Path:
        """Per-process working space for uploads in flight and engine outputs."""
        return (self.data_dir / "scratch").resolve()

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
