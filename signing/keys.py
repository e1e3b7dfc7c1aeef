"""The keys file: which key signs for which approver and which issuing unit, and which CAs are trusted.

Private keys are never in chidao's database: a key is on a PKCS#11 token (a USB token, an HSM, SoftHSM2
for trying chidao) or in a PKCS#12 file. `chidao pki init` writes a throwaway one; production points at
the real CA chain and tokens. Paths are relative to the file.

```yaml
trust: [ca.pem]                                  # the CA certificates letters must chain to
pkcs11:                                          # only where keys are on tokens
  module: /usr/lib/softhsm/libsofthsm2.so
  environment: {SOFTHSM2_CONF: softhsm2.conf}    # set before the module is loaded
approvers:                                       # by the person's id in the hierarchy
  stttt-langson-gd:
    token: stttt-langson-gd                      # token label; the key and certificate labelled `label`
    certificate: certs/stttt-langson-gd.pem      # checked (validity, trust) before a PIN is asked
    signature: images/stttt-langson-gd.png       # the handwritten signature, blue on transparent
  vhtt-caoloc-tp:
    pkcs12: p12/vhtt-caoloc-tp.p12               # its password is the PIN the approver types
    certificate: certs/vhtt-caoloc-tp.pem
    signature: images/vhtt-caoloc-tp.png
units:                                           # by the unit's code: the body's seal, used at issue
  20.STTTT:
    token: 20.STTTT
    certificate: certs/20.STTTT.pem
    seal: images/20.STTTT.png                    # red on transparent
    seal_mm: 36                                  # the seal's real diameter
    pin_file: pins/20.STTTT                      # an unattended key: its PIN in a file only chidao reads
```

An approver's key has no `pin_file` in production: they type the PIN when they sign. A trial PKI gives
every key one, so that the demo and the tests sign unattended.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from inputs.limits import KEYS
from inputs.sources import InputError, Problem, read_source, validate

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyEntry(_Strict):
    """Where one key is: a token label, or a PKCS#12 file."""

    token: Text | None = None
    label: Text = "sign"
    pkcs12: Text | None = None
    certificate: Text | None = Field(None, description="PEM of the key's certificate, checked before signing")
    pin_file: Text | None = Field(None, description="A file holding the PIN: for unattended keys only")

    @model_validator(mode="after")
    def _one_place(self) -> KeyEntry:
        if (self.token is None) == (self.pkcs12 is None):
            raise ValueError("give either 'token' (a PKCS#11 token label) or 'pkcs12' (a file), not both or neither")
        return self


class ApproverKey(KeyEntry):
    signature: Text = Field(description="PNG of the handwritten signature, blue on a transparent background")


class UnitKey(KeyEntry):
    seal: Text = Field(description="PNG of the seal, red on a transparent background")
    seal_mm: float = Field(36.0, ge=20, le=60, description="The seal's real diameter in millimetres")


class Pkcs11(_Strict):
    module: Text
    environment: dict[str, Text] = Field(default_factory=dict)


class KeysFile(_Strict):
    trust: list[Text] = Field(min_length=1)
    pkcs11: Pkcs11 | None = None
    approvers: dict[str, ApproverKey] = Field(default_factory=dict)
    units: dict[str, UnitKey] = Field(default_factory=dict)


class KeyProblem(Exception):
    """A key that cannot sign as configured; kind says which (for a message in the user's words): missing,
    wrong_pin, locked, token, expired, untrusted, other."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Key:
    """One configured key, its paths resolved."""

    owner: str  # an approver's id, or a unit's code
    token: str | None
    label: str
    pkcs12: Path | None
    certificate: Path | None
    pin_file: Path | None
    image: Path  # the signature or the seal
    seal_mm: float = 36.0

    @property
    def needs_pin(self) -> bool:
        """True if someone must type the PIN (no pin_file)."""
        return self.pin_file is None

    def stored_pin(self) -> str | None:
        return self.pin_file.read_text(encoding="utf-8").strip() if self.pin_file else None


@dataclass(frozen=True)
class Keyring:
    path: Path
    trust: tuple[Path, ...]
    module: Path | None
    environment: dict[str, str]
    approvers: dict[str, Key]
    units: dict[str, Key]

    def approver(self, person: str) -> Key:
        found = self.approvers.get(person)
        if found is None:
            raise KeyProblem(f"{self.path}: no key for the approver {person!r} (approvers: section)", "missing")
        return found

    def unit(self, code: str) -> Key:
        found = self.units.get(code)
        if found is None:
            raise KeyProblem(f"{self.path}: no seal key for the unit {code!r} (units: section)", "missing")
        return found

    def check(self, key: Key, now: datetime | None = None) -> None:
        """What can be known without the PIN: the certificate is in force and chains to a trusted CA."""
        if key.certificate is None:
            return
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(key.certificate.read_bytes())
        moment = now or datetime.now(UTC)
        if cert.not_valid_after_utc < moment:
            raise KeyProblem(
                f"the certificate of {key.owner} ({key.certificate}) expired on {cert.not_valid_after_utc:%d/%m/%Y}",
                "expired",
            )
        if cert.not_valid_before_utc > moment:
            raise KeyProblem(
                f"the certificate of {key.owner} is valid only from {cert.not_valid_before_utc:%d/%m/%Y}", "expired"
            )
        issuers = {x509.load_pem_x509_certificate(p.read_bytes()).subject for p in self.trust}
        if cert.issuer not in issuers and cert.subject not in issuers:
            raise KeyProblem(
                f"the certificate of {key.owner} is not issued by a trusted CA ({', '.join(map(str, self.trust))})"
            )


def load_keyring(path: str | Path) -> Keyring:
    """Read and check the keys file; InputError names the file, line and field of each problem."""
    src = read_source(path, KEYS)
    if not isinstance(src.data, dict):
        raise InputError([src.problem((), "expected a mapping with 'trust', 'approvers' and 'units'")])
    parsed = validate(KeysFile, src)
    base = Path(path).resolve().parent
    problems: list[Problem] = []

    def existing(value: str | None, loc: tuple[str | int, ...]) -> Path | None:
        if value is None:
            return None
        found = Path(value) if os.path.isabs(value) else base / value
        if not found.is_file():
            problems.append(src.problem(loc, f"no such file: {found}"))
        return found

    trust = tuple(p for i, t in enumerate(parsed.trust) if (p := existing(t, ("trust", i))) is not None)
    module = existing(parsed.pkcs11.module, ("pkcs11", "module")) if parsed.pkcs11 else None
    environment = {}
    if parsed.pkcs11:
        for name, value in parsed.pkcs11.environment.items():
            environment[name] = str(base / value) if not os.path.isabs(value) and (base / value).exists() else value

    def key(section: str, owner: str, entry: KeyEntry, image: str, seal_mm: float = 36.0) -> Key:
        loc = (section, owner)
        if entry.token is not None and parsed.pkcs11 is None:
            problems.append(src.problem((*loc, "token"), "a token needs the 'pkcs11' section (the module to load)"))
        return Key(
            owner=owner,
            token=entry.token,
            label=entry.label,
            pkcs12=existing(entry.pkcs12, (*loc, "pkcs12")),
            certificate=existing(entry.certificate, (*loc, "certificate")),
            pin_file=existing(entry.pin_file, (*loc, "pin_file")),
            image=existing(image, loc) or Path(image),
            seal_mm=seal_mm,
        )

    approvers = {o: key("approvers", o, e, e.signature) for o, e in parsed.approvers.items()}
    units = {o: key("units", o, e, e.seal, e.seal_mm) for o, e in parsed.units.items()}
    if problems:
        raise InputError(problems)
    return Keyring(Path(path), trust, module, environment, approvers, units)
