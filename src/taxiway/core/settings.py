"""Settings from the environment (TAXIWAY_*) and an optional TOML file, built once per app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
    # Base URL put in asset links sent by webhooks (API responses use the request's own base URL).
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000

    # Execution: "local" runs supervised worker processes inside `taxiway serve`;
    # "none" makes this process API-only (another process claims the work).
    executor: Literal["local", "none"] = "local"
    workers: int = Field(default_factory=_default_workers, ge=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    task_time_limit_seconds: float = Field(default=4 * 3600.0, gt=0)
    scheduler_interval_seconds: float = Field(default=0.5, gt=0)
    # How long a worker gets to honour a cancel before its process is killed.
    cancel_grace_seconds: float = Field(default=5.0, gt=0)

    # Uploads.
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    max_video_pixels: int = Field(default=8192 * 8192, gt=0)
    signed_url_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # Key for signing download links; several API servers must share one. Empty: <data_dir>/secret.key.
    secret_key: str = ""

    # Credits.
    default_credits: int = Field(default=1000, ge=0)
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

    # Classic engine encoder settings (libx264).
    x264_preset: str = "veryfast"
    x264_crf: int = Field(default=18, ge=0, le=51)
    # Classic upscale: unsharp mask strength after Lanczos (0 = off; 0.3–0.8 is mild).
    upscale_sharpen: float = Field(default=0.0, ge=0, le=2)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

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
    def scratch_dir(self) -> Path:
        """Per-process working space for uploads in flight and engine outputs."""
        return (self.data_dir / "scratch").resolve()

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
