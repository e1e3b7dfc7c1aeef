"""Settings from the environment (CHIDAO_*), with embedded defaults: SQLite in a data directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "chidao"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHIDAO_")

    data_dir: Path = Field(default_factory=_default_data_dir, description="Where the SQLite file and outputs live")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite in data_dir")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Dates on letters are this zone's calendar dates")
    dispatch: Literal["inline", "deployment"] = Field(
        "inline", description="After an approval, send in this process, or queue a run of the 'dispatch' deployment"
    )

    smtputf8: bool = Field(
        False, description="The mail server takes internationalised addresses (SMTPUTF8); else they are refused"
    )
    keys: Path | None = Field(
        None, description="The keys file: who signs with which key (default: DATA_DIR/pki/keys.yaml, if there)"
    )
    hierarchy: Path | None = Field(None, description="The hierarchy file the desk starts new cascades on")
    secret_key: str | None = Field(None, description="Signs the desk's session cookies; default: DATA_DIR/desk.key")
    secure_cookies: bool = Field(False, description="Send the desk's cookies over HTTPS only (behind a TLS proxy)")

    @property
    def keys_file(self) -> Path | None:
        if self.keys is not None:
            return self.keys
        trial = self.data_dir / "pki" / "keys.yaml"
        return trial if trial.is_file() else None

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'chidao.db'}"


def settings() -> Settings:
    """Read from the environment, and again whenever a variable it depends on changes (tests set them). Only
    those variables are looked at: scanning the whole environment cost 0.1 ms, paid by every report taken."""
    key = tuple(map(os.environ.get, _DEPENDS_ON))
    found = _READ.get(key)
    if found is None:
        _READ.clear()
        found = _READ[key] = Settings()
    return found


_DEPENDS_ON = (*(f"CHIDAO_{name.upper()}" for name in Settings.model_fields), "XDG_DATA_HOME", "HOME")
_READ: dict[tuple[str | None, ...], Settings] = {}


def quiet_prefect() -> None:
    """Embedded defaults for Prefect: no telemetry (the network is loopback only), a quiet console (warnings
    only), while the flows' own INFO lines still reach Prefect's API and show in its UI."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
