"""`journey token create` and the dev stack's JWT secret + banner token."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import jwt
from pydantic import SecretStr
from rich.console import Console

from journey.core.config import Settings
from journey.dev.run import banner, token_lines
from journey.dev.stack import JWT_SECRET_FILE, with_jwt_secret

REPO = Path(__file__).resolve().parents[2]
SECRET = "cli-test-secret-that-is-long-enough-for-hs256-000"


def _journey(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    return subprocess.run(
        [sys.executable, "-m", "journey", *args],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_create_prints_a_signed_token() -> None:
    args = ["token", "create", "--role", "editor", "--subject", "ci", "--ttl-minutes", "5"]
    result = _journey(args, JOURNEY_JWT_SECRET=SECRET)
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "ci" and claims["role"] == "editor"
    assert claims["exp"] - claims["iat"] == 300


def test_token_create_without_a_secret_or_with_an_unknown_role_is_a_clear_error() -> None:
    missing = _journey(["token", "create", "--role", "admin"])
    assert missing.returncode == 1
    assert "JOURNEY_JWT_SECRET is not set" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stdout == ""
    unknown = _journey(["token", "create", "--role", "root"], JOURNEY_JWT_SECRET=SECRET)
    assert unknown.returncode == 2
    assert "unknown role 'root'" in unknown.stderr and "viewer" in unknown.stderr


def test_dev_makes_a_secret_once_and_keeps_it_private(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = with_jwt_secret(settings, tmp_path)
    path = tmp_path / JWT_SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.jwt_secret is not None
    assert path.read_text().strip() == first.jwt_secret.get_secret_value()
    again = with_jwt_secret(settings, tmp_path)
    assert again.jwt_secret == first.jwt_secret
    configured = settings.model_copy(update={"jwt_secret": SecretStr(SECRET)})
    assert with_jwt_secret(configured, tmp_path) is configured


def test_dev_banner_shows_an_admin_token_and_a_curl(tmp_path: Path) -> None:
    settings = with_jwt_secret(Settings(_env_file=None, data_dir=tmp_path), tmp_path)
    console = Console(width=80, soft_wrap=True, record=True)
    console.print(banner(settings))
    for line in token_lines(settings):
        console.print(line, markup=False)
    text = console.export_text()
    curl = next(line for line in text.splitlines() if "curl" in line)
    token = curl.split("Bearer ")[1].split('"')[0]
    secret = (tmp_path / JWT_SECRET_FILE).read_text().strip()
    claims = jwt.decode(token, secret, algorithms=["HS256"])
    assert claims["role"] == "admin"
    assert curl.strip().endswith(f"{settings.api_url}/api/workflows")
