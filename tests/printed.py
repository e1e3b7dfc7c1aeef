"""Reading what chidao sends as a person's software would: the signed PDF of a message, its text through
poppler's pdftotext (an independent reader), its signatures through pdfsig."""

from __future__ import annotations

import email
import os
import shutil
import subprocess
from email.message import Message
from pathlib import Path

import pytest


def poppler(tool: str) -> str:
    """A poppler tool's path; the test is skipped without poppler-utils (failed where CI requires it)."""
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CHIDAO_REQUIRE_OFFICE"):
            pytest.fail(f"{tool} required but not installed: run scripts/setup --system (poppler-utils)")
        pytest.skip(f"{tool} not installed (poppler-utils: scripts/setup --system)")
    return found


def attached_pdf(raw: bytes) -> bytes:
    """The PDF a message carries (the signed letter)."""
    message: Message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("the message carries no PDF")


def pdf_text(data: bytes) -> str:
    """The text of a PDF as pdftotext reads it, filled form fields included, whitespace folded."""
    done = subprocess.run([poppler("pdftotext"), "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(done.stdout.decode("utf-8").split())


def pdfsig(path: Path, nssdb: Path | None) -> str:
    """pdfsig's report on a file's signatures (trusting the NSS database given)."""
    command = [poppler("pdfsig")] + (["-nssdir", f"sql:{nssdb}"] if nssdb else []) + [str(path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return done.stdout
