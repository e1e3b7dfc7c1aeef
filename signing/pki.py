"""A throwaway PKI for trying chidao: a CA, a key and certificate for every approver and every issuing unit
of a hierarchy, placeholder signature and seal images, and the keys file that ties them together.

Keys go on SoftHSM2 tokens (a real PKCS#11 interface, the code path of a USB token or an HSM), one token
per person and per unit, each with its own PIN; where SoftHSM2 is not installed, into PKCS#12 files. Keys
are ECDSA P-256. Every key gets a pin_file so that the demo and the tests sign unattended; nothing here is
fit for real letters, and every certificate says so.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from hierarchy.graph import Hierarchy
from signing.images import seal_image, signature_image

SOFTHSM_MODULES = (Path("/usr/lib/softhsm/libsofthsm2.so"), Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"))
TRIAL = "thử nghiệm, không dùng cho văn bản thật"


def softhsm_module() -> Path | None:
    """SoftHSM2's PKCS#11 module where it is installed (Debian's softhsm2), with its tool beside it."""
    if shutil.which("softhsm2-util") is None:
        return None
    return next((m for m in SOFTHSM_MODULES if m.is_file()), None)


@dataclass
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _bytes64(text: str) -> str:
    """At most 64 bytes of UTF-8 (X.520's upper bound for these names), cut at a character."""
    return text.encode("utf-8")[:64].decode("utf-8", "ignore")


def _name(common: str, organisation: str | None = None, place: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if place:
        parts.append(x509.NameAttribute(NameOID.LOCALITY_NAME, _bytes64(place)))
    if organisation:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _bytes64(organisation)))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, _bytes64(common)))
    return x509.Name(parts)


# A trial PKI's certificates hold from 2020 (so that letters can be signed on the dates the examples and the
# tests travel to) to five years from now.
TRIAL_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def new_authority(name: str = "chidao CA thử nghiệm", days: int = 3650) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    now = TRIAL_FROM
    subject = _name(name, TRIAL)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(datetime.now(UTC) + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),  # cert and CRL signing
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, certificate)


def issue_certificate(
    authority: Authority,
    subject: x509.Name,
    public_key: Any,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    """A signing certificate (digital signature, non-repudiation) for public_key, by default a trial one."""
    start = not_before or TRIAL_FROM
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or datetime.now(UTC) + timedelta(days=5 * 365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()), critical=False)
        .sign(authority.key, hashes.SHA256())
    )


def load_authority(folder: Path) -> Authority:
    """The trial CA of a PKI folder, to issue more certificates with."""
    key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return Authority(key, x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes()))


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def token_label(owner: str) -> str:
    """A token's label is at most 32 bytes: a long id is shortened to a digest."""
    if len(owner.encode("utf-8")) <= 32:
        return owner
    return "chidao-" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:20]


class SoftHsm:
    """SoftHSM2 tokens in a folder of the PKI's own (its configuration file beside them)."""

    def __init__(self, folder: Path, module: Path) -> None:
        self.folder, self.module = folder, module
        (folder / "tokens").mkdir(parents=True, exist_ok=True)
        self.conf = folder / "softhsm2.conf"
        self.conf.write_text(
            f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n",
            encoding="utf-8",
        )
        self.env = os.environ | {"SOFTHSM2_CONF": str(self.conf)}
        self._lib: Any = None

    def _library(self) -> Any:
        import pkcs11

        if self._lib is None:
            if os.environ.get("SOFTHSM2_CONF") not in (None, str(self.conf)):
                raise RuntimeError("SoftHSM2 was loaded with another configuration in this process")
            os.environ["SOFTHSM2_CONF"] = str(self.conf)
            self._lib = pkcs11.lib(str(self.module))
        return self._lib

    def init_token(self, label: str, pin: str) -> None:
        """A token of its own for one owner (before the module is loaded: it sees the tokens it starts with)."""
        assert self._lib is None, "all tokens are made before the first key"
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                secrets.token_hex(8),
                "--pin",
                pin,
            ],
            check=True,
            capture_output=True,
            env=self.env,
        )

    def new_key(self, label: str, pin: str) -> tuple[Any, Callable[[x509.Certificate], None]]:
        """An EC key generated on the token (it never leaves it); returns the public key and a function that
        stores the certificate beside the key."""
        from pkcs11 import Attribute, CertificateType, KeyType, ObjectClass
        from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

        token = self._library().get_token(token_label=label)
        with token.open(rw=True, user_pin=pin) as session:
            params = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
            )
            public, _ = params.generate_keypair(
                store=True,
                label="sign",
                id=b"\x01",
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.SIGN: True},
            )
            public_key = serialization.load_der_public_key(encode_ec_public_key(public))

        def store(certificate: x509.Certificate) -> None:
            with token.open(rw=True, user_pin=pin) as session:
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                        Attribute.TOKEN: True,
                        Attribute.LABEL: "sign",
                        Attribute.ID: b"\x01",
                        Attribute.SUBJECT: certificate.subject.public_bytes(),
                        Attribute.ISSUER: certificate.issuer.public_bytes(),
                        Attribute.SERIAL_NUMBER: certificate.serial_number.to_bytes(20, "big").lstrip(b"\0"),
                        Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
                    }
                )

        return public_key, store


@dataclass
class Made:
    folder: Path
    keys_file: Path
    store: str  # softhsm or pkcs12
    approvers: int
    units: int
    nssdb: Path | None


def make_pki(
    hierarchies: Hierarchy | Sequence[Hierarchy],
    folder: Path,
    *,
    store: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> Made:
    """The whole trial PKI for every unit with approvers of the hierarchies, in folder (made afresh); the CA's key
    is kept beside it (ca-key.pem), so that more certificates can be issued for tests."""
    module = softhsm_module()
    store = store or ("softhsm" if module else "pkcs12")
    if store == "softhsm" and module is None:
        raise RuntimeError("SoftHSM2 is not installed (Debian's softhsm2: scripts/setup --system)")
    if folder.exists():
        shutil.rmtree(folder)
    for sub in ("certs", "images", "pins", "p12"):
        (folder / sub).mkdir(parents=True)
    authority = new_authority()
    (folder / "ca.pem").write_bytes(pem(authority.certificate))
    ca_key = folder / "ca-key.pem"
    ca_key.write_bytes(
        authority.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ca_key.chmod(0o600)
    hsm = SoftHsm(folder / "softhsm", module) if store == "softhsm" and module else None
    entries: dict[str, dict[str, dict[str, Any]]] = {"approvers": {}, "units": {}}
    if isinstance(hierarchies, Hierarchy):
        hierarchies = [hierarchies]
    seen: set[str] = set()
    issuers = []
    for hierarchy in hierarchies:
        for code in hierarchy.graph:
            unit = hierarchy.unit(code)
            if unit.approvers and code not in seen:
                seen.add(code)
                issuers.append(unit)
    progress(f"Keys for {len(issuers)} unit(s) and their approvers ({store})…")
    owners: list[tuple[Any, str, str, x509.Name, str]] = []
    people: set[str] = set()
    for unit in issuers:
        body = f"{unit.name} - {unit.parent_body}" if unit.parent_body else unit.name
        owners.append((unit, "units", unit.code, _name(body.upper(), body, unit.place), unit.code))
        for p in unit.approvers:
            if p.id not in people:
                people.add(p.id)
                owners.append((unit, "approvers", p.id, _name(p.name, body, unit.place), p.id))
    pins = {owner: f"{secrets.randbelow(10**6):06d}" for _, _, owner, _, _ in owners}
    if hsm is not None:
        for _, _, owner, _, _ in owners:
            hsm.init_token(token_label(owner), pins[owner])
    for unit, section, owner, subject, file_stem in owners:
        pin = pins[owner]
        pin_file = folder / "pins" / file_stem
        pin_file.write_text(pin + "\n", encoding="utf-8")
        pin_file.chmod(0o600)
        entry: dict[str, Any] = {"certificate": f"certs/{file_stem}.pem", "pin_file": f"pins/{file_stem}"}
        if hsm is not None:
            label = token_label(owner)
            public_key, keep = hsm.new_key(label, pin)
            certificate = issue_certificate(authority, subject, public_key)
            keep(certificate)
            entry["token"] = label
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            certificate = issue_certificate(authority, subject, key.public_key())
            bundle = pkcs12.serialize_key_and_certificates(
                owner.encode("utf-8"),
                key,
                certificate,
                [authority.certificate],
                serialization.BestAvailableEncryption(pin.encode("utf-8")),
            )
            (folder / "p12" / f"{file_stem}.p12").write_bytes(bundle)
            entry["pkcs12"] = f"p12/{file_stem}.p12"
        (folder / "certs" / f"{file_stem}.pem").write_bytes(pem(certificate))
        if section == "units":
            seal_image(unit.name, unit.place, folder / "images" / f"seal-{file_stem}.png")
            entry |= {"seal": f"images/seal-{file_stem}.png", "seal_mm": 36}
        else:
            person = next(p for p in unit.approvers if p.id == owner)
            signature_image(person.name, folder / "images" / f"{file_stem}.png")
            entry["signature"] = f"images/{file_stem}.png"
        entries[section][owner] = entry
    keys: dict[str, Any] = {"trust": ["ca.pem"]}
    if hsm is not None:
        keys["pkcs11"] = {"module": str(hsm.module), "environment": {"SOFTHSM2_CONF": "softhsm/softhsm2.conf"}}
    keys |= entries
    header = (
        "# A throwaway PKI made by `chidao pki init` for trying chidao: NOT for real letters.\n"
        "# Every key has a pin_file so that it signs unattended; in production an approver types the PIN.\n"
    )
    keys_file = folder / "keys.yaml"
    keys_file.write_text(header + yaml.safe_dump(keys, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Made(
        folder,
        keys_file,
        store,
        len(entries["approvers"]),
        len(entries["units"]),
        nss_database(folder / "nssdb", folder / "ca.pem"),
    )


def nss_database(folder: Path, ca: Path) -> Path | None:
    """An NSS database trusting the CA, for poppler's pdfsig (`pdfsig -nssdir DIR letter.pdf`); None where
    NSS's certutil is not installed."""
    if shutil.which("certutil") is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    run = ["certutil", "-d", f"sql:{folder}"]
    subprocess.run([*run, "-N", "--empty-password"], check=True, capture_output=True)
    subprocess.run([*run, "-A", "-n", "chidao-trial-ca", "-t", "C,C,C", "-i", str(ca)], check=True, capture_output=True)
    return folder
