"""`chidao hierarchy`: check, show and import hierarchy files."""

from __future__ import annotations

import click

from chidao.settings import settings
from cli.common import clear_errors, fail


@click.group()
def hierarchy() -> None:
    """Check and look at hierarchy files."""


@hierarchy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def hierarchy_validate(file: str) -> None:
    """Check a hierarchy file; every problem names the line, the unit and the field."""
    from hierarchy.load import load_hierarchy

    with clear_errors():
        h = load_hierarchy(file, smtputf8=settings().smtputf8)
        normalised = h.normalised
    issuers = sum(1 for code in h.graph if h.has_children(code))
    depth = sum(1 for _ in h.levels(h.root))
    click.echo(f"{file}: valid — {len(h)} units, {depth} levels, {issuers} units with units under them")
    if normalised:
        click.echo(f"note: {normalised} text value(s) were not in NFC and were normalised")


@hierarchy.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--root", help="Code of the unit to start from (default: the hierarchy's root)")
@click.option("--depth", type=click.IntRange(min=0), help="Levels to show below the root")
def hierarchy_show(file: str, root: str | None, depth: int | None) -> None:
    """Print the hierarchy as a tree, children in Vietnamese alphabetical order."""
    from hierarchy.graph import UnknownUnit
    from hierarchy.load import load_hierarchy
    from hierarchy.tree import render_tree

    with clear_errors():
        h = load_hierarchy(file, smtputf8=settings().smtputf8)
    try:
        click.echo(render_tree(h, root, depth))
    except UnknownUnit as exc:
        fail(f"--root: {exc}", 2)


def _keys(text: str | None) -> list[str] | None:
    return None if text is None else [k for k in text.split(",") if k.strip()]


@hierarchy.command("import")
@click.argument("source", type=click.Choice(["vietnam-provinces"]))
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="The hierarchy YAML file to write")
@click.option(
    "--shape",
    type=click.Choice(["2025", "pre2025"]),
    default="2025",
    show_default=True,
    help="2025: 34 provinces, communes (package 2025.10.1); pre2025: 63 provinces, districts, communes (0.6.0)",
)
@click.option(
    "--departments",
    help="Comma-separated Sở under each committee, the first carrying the cascade: STTTT, SKHCN, SVHTTDL, SGDDT "
    "(default: STTTT pre2025, SKHCN 2025)",
)
@click.option(
    "--enterprises",
    help="Comma-separated press and enterprises under it: media, post, viettelpost, vnpt, viettel, mobifone "
    "(default: all; '' for none)",
)
@click.option("--district-branches", is_flag=True, help="pre2025: post, VNPT, Viettel branches under each district")
def hierarchy_import(
    source: str, output: str, shape: str, departments: str | None, enterprises: str | None, district_branches: bool
) -> None:
    """Make the national hierarchy (ministry, provinces, departments, communes with official codes).

    The package (GPL-3.0) is installed in a throwaway virtualenv, once, under CHIDAO_IMPORTER_CACHE (default
    DATA_DIR/importers), never into chidao's; the file is written only if it is valid and its provinces,
    districts and communes are exactly the package's.
    """
    from hierarchy.importers import ImportFailed, import_vietnam_provinces

    try:
        result = import_vietnam_provinces(
            output,
            shape,
            departments=_keys(departments),
            enterprises=_keys(enterprises),
            district_branches=district_branches,
            cache=settings().data_dir / "importers",
            progress=lambda message: click.echo(message, err=True),
        )
    except ImportFailed as exc:
        fail(f"{exc}\nnothing written to {output}")
        return
    w, p = result.written, result.package
    click.echo(
        f"{result.output}: valid — {result.units} units: {w.provinces} provinces, {w.districts} districts, "
        f"{w.communes} communes ({result.seconds:.0f} s)"
    )
    click.echo(
        f"vietnam-provinces {result.version} (data of {result.data_version}): {p.provinces} provinces, "
        f"{p.districts} districts, {p.communes} communes — the same codes"
    )
