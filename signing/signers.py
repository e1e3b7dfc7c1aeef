"""pyHanko signers for the configured keys: a PKCS#11 token (the same code path for SoftHSM2, a USB token or
an HSM) or a PKCS#12 file, unlocked with a PIN; every failure a KeyProblem that says what is wrong.

Kept per process, because loading is most of the cost of a signature: pyHanko's SimpleSigner re-reads the
private key from DER at every signature (~40 ms of the ~45), so a PKCS#12 key is parsed once and kept
(KeptKeySigner); an unattended key's token session stays open. A key whose PIN is typed is unlocked for
one signature and its session closed after it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from pyhanko.sign import signers

from signing.keys import Key, KeyProblem, Keyring


class KeptKeySigner(signers.SimpleSigner):
    """A PKCS#12 key parsed once: signs with the key object itself, and answers a size estimate without a
    real signature."""

    def __init__(self, *args: Any, pyca_key: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pyca_key = pyca_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
        from pyhanko_certvalidator.util import get_pyca_cryptography_hash

        hashing = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self._pyca_key, ec.EllipticCurvePrivateKey):
            return bytes(self._pyca_key.sign(data, ec.ECDSA(hashing)))
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if isinstance(self._pyca_key, rsa.RSAPrivateKey) and mechanism.signature_algo == "rsassa_pkcs1v15":
            return bytes(self._pyca_key.sign(data, padding.PKCS1v15(), hashing))
        return bytes(super().sign_raw(data, digest_algorithm))

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if dry_run:
            return bytes(self.sign_raw(data, digest_algorithm))  # cheap now the key is kept
        return self.sign_raw(data, digest_algorithm)


@lru_cache(maxsize=4096)  # every approver and unit of a national cascade signs twice (letter, BÁO CÁO): kept
def _pkcs12(path: Path, mtime: float, pin: str) -> KeptKeySigner:
    from cryptography.hazmat.primitives.serialization import pkcs12
    from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1, translate_pyca_cryptography_key_to_asn1
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    try:
        key, cert, others = pkcs12.load_key_and_certificates(path.read_bytes(), pin.encode("utf-8"))
    except ValueError:
        raise KeyProblem(f"wrong PIN for the key in {path}", "wrong_pin") from None
    if key is None or cert is None:
        raise KeyProblem(f"{path} holds no key and certificate")
    store = SimpleCertificateStore()  # type: ignore[no-untyped-call]
    store.register_multiple([translate_pyca_cryptography_cert_to_asn1(c) for c in others])
    return KeptKeySigner(
        signing_cert=translate_pyca_cryptography_cert_to_asn1(cert),
        signing_key=translate_pyca_cryptography_key_to_asn1(key),
        cert_registry=store,
        pyca_key=key,
    )


_LIBRARY_LOCK = threading.Lock()
_TOKEN_LOCKS: dict[str, threading.Lock] = {}
_SESSIONS: dict[tuple[str, str], Any] = {}  # unattended keys: (module, token) -> logged-in session


def _library(keyring: Keyring) -> str:
    """The PKCS#11 module, its environment set first (SoftHSM2 reads SOFTHSM2_CONF once, when loaded)."""
    if keyring.module is None:
        raise KeyProblem(f"{keyring.path}: a token key needs the 'pkcs11' section", "missing")
    with _LIBRARY_LOCK:
        for name, value in keyring.environment.items():
            os.environ.setdefault(name, value)
    return str(keyring.module)


def _open(module: str, token: str, pin: str) -> Any:
    import pkcs11.exceptions as errors
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.sign.pkcs11 import open_pkcs11_session

    try:
        return open_pkcs11_session(module, token_criteria=TokenCriteria(label=token), user_pin=pin)
    except (errors.PinIncorrect, errors.PinLenRange, errors.PinInvalid):
        raise KeyProblem(f"wrong PIN for the token {token!r}", "wrong_pin") from None
    except errors.PinLocked:
        raise KeyProblem(f"the token {token!r} is locked after too many wrong PINs", "locked") from None
    except errors.PKCS11Error as exc:
        raise KeyProblem(f"the token {token!r} cannot be used: {str(exc) or type(exc).__name__}", "token") from None


def _token_signer(session: Any, key: Key, ca_chain: list[Any]) -> signers.Signer:
    import pkcs11.exceptions as errors
    from pyhanko.sign.pkcs11 import PKCS11Signer

    # the digest computed here, the token signing it (CKM_ECDSA, CKM_RSA_PKCS): every token has those
    signer = PKCS11Signer(session, cert_label=key.label, key_label=key.label, ca_chain=ca_chain, use_raw_mechanism=True)
    try:
        signer.signing_cert  # noqa: B018  # loads it now: a missing certificate is told here, not mid-signature
    except errors.PKCS11Error as exc:
        raise KeyProblem(
            f"the token {key.token!r} has no certificate labelled {key.label!r}: {exc}", "missing"
        ) from None
    return signer


@contextmanager
def unlocked(keyring: Keyring, key: Key, pin: str | None) -> Iterator[signers.Signer]:
    """A signer for key, unlocked with pin (else its pin_file's); KeyProblem if it cannot be."""
    pin = pin if pin is not None else key.stored_pin()
    if pin is None:
        raise KeyProblem(f"the key of {key.owner} needs its PIN", "wrong_pin")
    if key.pkcs12 is not None:
        yield _pkcs12(key.pkcs12, key.pkcs12.stat().st_mtime, pin)
        return
    assert key.token is not None, "checked when the keys file is read"
    module = _library(keyring)
    chain = trust_roots(keyring.trust)
    lock = _TOKEN_LOCKS.setdefault(key.token, threading.Lock())
    with lock:  # one login per token at a time: a second one is refused by the token
        if key.pin_file is not None and pin == key.stored_pin():
            session = _SESSIONS.get((module, key.token))
            if session is None:
                session = _SESSIONS[(module, key.token)] = _open(module, key.token, pin)
            yield _token_signer(session, key, chain)
            return
        kept = _SESSIONS.pop((module, key.token), None)
        if kept is not None:  # a typed PIN is checked by the token: the kept login must end first
            kept.close()
        session = _open(module, key.token, pin)
        try:
            yield _token_signer(session, key, chain)
        finally:
            session.close()


def trust_roots(paths: tuple[Path, ...]) -> list[Any]:
    """The trusted CA certificates, as pyHanko takes them."""
    from pyhanko.keys import load_cert_from_pemder

    return [load_cert_from_pemder(str(p)) for p in paths]  # type: ignore[no-untyped-call]
