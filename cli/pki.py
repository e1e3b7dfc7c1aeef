"""`chidao pki init`: a throwaway PKI for trying chidao's signed letters; `chidao verify`: what a receiving
office checks on a signed letter."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chidao.settings import settings
from cli.common import clear_errors, emit_json, fail


@click.group()
def pki() -> None:
    """Keys and certificates for signing letters."""


@pki.command("init")
@click.option("--hierarchy", "hierarchy_file", required=True, type=click.Path(dir_okay=False), help="Hierarchy YAML")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder (default: DATA_DIR/pki)")
@click.option(
    "--store",
    type=click.Choice(["softhsm", "pkcs12"]),
    help="Where keys go (default: SoftHSM2 tokens where installed, else PKCS#12 files)",
)
def pki_init(hierarchy_file: str, out: Path | None, store: str | None) -> None:
    """A throwaway CA, a key and certificate for every approver and issuing unit of the hierarchy, placeholder
    signature and seal images, and the keys file (DATA_DIR/pki/keys.yaml is used when CHIDAO_KEYS is unset).
    For trying chidao only: production points CHIDAO_KEYS at the real CA chain and tokens."""
    from hierarchy.load import load_hierarchy
    from signing.pki import make_pki

    with clear_errors():
        hierarchy = load_hierarchy(hierarchy_file)
    folder = out or settings().data_dir / "pki"
    try:
        made = make_pki(hierarchy, folder, store=store, progress=lambda m: click.echo(m, err=True))
    except RuntimeError as exc:
        fail(str(exc), 2)
        return
    where = "SoftHSM2 tokens (PKCS#11)" if made.store == "softhsm" else "PKCS#12 files (SoftHSM2 is not installed)"
    click.echo(f"Trial PKI in {made.folder}: {made.approvers} approver(s), {made.units} unit seal(s), keys on {where}.")
    click.echo(f"Keys file: {made.keys_file}" + ("" if out is None else f" (set CHIDAO_KEYS={made.keys_file})"))
    if made.nssdb:
        click.echo(f"For poppler: pdfsig -nssdir {made.nssdb} LETTER.pdf")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--trust", "trust_files", multiple=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document")
def verify(file: Path, trust_files: tuple[Path, ...], as_json: bool) -> None:
    """Who signed a letter, which body issued it, its number and date, when each signed, whether each signature
    is intact, valid and trusted (the CAs of --trust, else of the keys file), and whether anything changed
    after signing. Exit 0 if it all holds, 1 if not."""
    from chidao import issuing
    from signing.keys import KeyProblem
    from signing.signers import trust_roots
    from signing.verify import verify_pdf

    if trust_files:
        anchors = trust_files
    else:
        try:
            with clear_errors():
                anchors = issuing.keyring().trust
        except KeyProblem as exc:
            fail(f"no trusted CA to check against: give --trust CA.pem ({exc})", 2)
            return
    result = verify_pdf(file.read_bytes(), trust_roots(tuple(anchors)))
    if as_json:
        emit_json(result.to_data())
        sys.exit(0 if result.holds else 1)
    click.echo(f"{file}: {result.title or '(no title)'}")
    click.echo(f"  issued by {result.author or '?'}, number {result.number or '?'}, day {result.day or '?'}")
    for s in result.signatures:
        state = ", ".join(
            [
                "intact" if s.intact else "NOT INTACT",
                "valid" if s.valid else "NOT VALID",
                "trusted" if s.trusted else "NOT TRUSTED",
            ]
        )
        after = {"NONE": "nothing changed after it", "FORM_FILLING": "after it: the number and the day filled in"}
        click.echo(f"  {s.role}: {s.signer} ({s.organisation}), signed {s.signed_at}: {state}")
        click.echo(
            f"    {after.get(s.modification, f'changed after it: {s.modification}')}"
            + (f"; {s.problem}" if s.problem else "")
        )
    for problem in result.problems:
        click.echo(f"  problem: {problem}")
    click.echo("Verified: both signatures hold." if result.holds else "NOT verified.")
    sys.exit(0 if result.holds else 1)
