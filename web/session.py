"""Signed-cookie sessions and CSRF tokens for the desk.

The cookie holds the account id, the id of its server-side session (chidao.accounts: sign-out, a new
password or a disabled account end it at once, whatever copy of the cookie is kept), a CSRF token and when
it was issued; it is signed with HMAC-SHA256 and cannot be changed by the browser. Every form carries the
token; a POST whose token differs from the cookie's is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

COOKIE = "chidao_desk"
LIFETIME = 10 * 3600  # a working day; then sign in again


@dataclass
class DeskSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    account: str | None = None
    sid: str | None = None  # the server-side session's id
    issued: float = field(default_factory=time.time)

    def to_data(self) -> dict[str, object]:
        return {"a": self.account, "s": self.sid, "c": self.csrf, "t": self.issued}


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured key, else one generated once into DATA_DIR/desk.key (readable by its owner only)."""
    if configured:
        return configured.encode()
    path = data_dir / "desk.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"chidao desk session\0" + secret).digest()

    def _mac(self, body: str) -> str:
        return (
            base64.urlsafe_b64encode(hmac.new(self._key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")
        )

    def dumps(self, session: DeskSession) -> str:
        body = base64.urlsafe_b64encode(json.dumps(session.to_data(), separators=(",", ":")).encode()).decode()
        return f"{body}.{self._mac(body)}"

    def loads(self, value: str | None, now: float | None = None) -> DeskSession | None:
        """The session, or None if the cookie is missing, altered or expired."""
        if not value or "." not in value:
            return None
        body, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
            found = DeskSession(csrf=str(data["c"]), account=data["a"], sid=data["s"], issued=float(data["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        if (now or time.time()) - found.issued > LIFETIME:
            return None
        return found


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
