"""Configuration: `JOURNEYS_*` environment variables, else the same keys in `./journeys.toml`, else defaults.

Read once at the edges (the CLI, `worker.py`) and passed inward.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from journeys.secrets import load_or_create_secret


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", toml_file="journeys.toml", extra="ignore")

    data_dir: Path = Path(".journeys")
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "journeys"
    database_url: str | None = None
    definitions: Path = Path("definitions")
    smtp_url: str | None = None
    email_from: str = "journeys@localhost"
    twilio_account_sid: str | None = Field(
        None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "twilio_account_sid")
    )
    twilio_auth_token: str | None = Field(None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "twilio_auth_token"))
    twilio_from: str | None = None
    twilio_base_url: str | None = None
    secret: str | None = None  # signs unsubscribe links and voice answers; generated into the data dir if unset
    public_url: str = "http://localhost:8080"  # where providers and customers reach `journeys serve`
    serve_port: int = 8080
    serve_host: str = "127.0.0.1"  # 0.0.0.0 (or a private address) to serve other machines, behind TLS
    api_rate: float = Field(200.0, gt=0)  # requests per second per API key, per server process
    console_session_hours: float = Field(8.0, gt=0)  # a console sign-in lasts this long, then asks again
    webhook_secret: str | None = None  # signs outgoing webhooks; unset: webhooks go to the outbox
    # encrypts every Temporal payload: "id:base64key[,older-id:base64key...]", the first one encrypts;
    # unset: the key `journeys dev` generated into the data dir, if there is one (journeys.runtime.codec)
    encryption_key: str | None = None
    # "off": a worker or server may talk to a Temporal server elsewhere without a key (payloads in clear)
    encryption: Literal["on", "off"] = "on"
    # journey runs a worker keeps in memory; a run outside it is replayed from its history when woken
    workflow_cache: int = 1_000
    # run journey workflows in Temporal's sandbox (re-imports the workflow module for every run it loads and
    # checks each call): off, the workflow code is checked by the test suite instead (journeys.runtime.temporal)
    workflow_sandbox: bool = False
    # provider rate limits, messages per second across every worker (unset: as fast as the workers go)
    email_rate: float | None = None
    sms_rate: float | None = None
    voice_rate: float | None = None
    webhook_rate: float | None = None
    # logs of journeys dev, worker and serve (journeys.runtime.logs): DEBUG, INFO, WARNING or ERROR; json, console, or
    # auto (console on a terminal, else JSON lines)
    log_level: str = "INFO"
    log_format: str = "auto"

    def rate(self, channel: str) -> float | None:
        return getattr(self, f"{channel}_rate")

    def signing_secret(self) -> str:
        return self.secret or load_or_create_secret(self.data_dir / "secret")

    @property
    def templates(self) -> Path:
        return self.definitions / "templates"

    @property
    def store_url(self) -> str:
        """The store's SQLAlchemy URL: the configured one, else a SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'journeys.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
