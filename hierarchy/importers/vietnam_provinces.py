"""Import the national hierarchy from the `vietnam-provinces` package, in a throwaway virtualenv.

The package is GPL-3.0 and its two data versions (2025.10.1: 34 provinces and their communes; 0.6.0: the
63 provinces, districts and communes before 1 July 2025) cannot be installed together, so chidao never
depends on it nor imports it: each version gets its own virtualenv, created once and cached, in which
`vietnam_provinces_generate.py` (a standalone script) writes the file. This side validates the file with
the hierarchy loader, checks its provinces, districts and communes against the package's own data, and
only then puts it at the output path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hierarchy.graph import Hierarchy
from hierarchy.importers.vietnam_provinces_conventions import DEPARTMENTS, ENTERPRISES, SHAPES
from hierarchy.load import load_hierarchy
from inputs.sources import InputError

GENERATOR = Path(__file__).with_name("vietnam_provinces_generate.py")
CACHE_ENV = "CHIDAO_IMPORTER_CACHE"
_READY = "chidao-ready"  # written last in a cached venv: a venv without it was cut short


class ImportFailed(Exception):
    """The import could not produce a valid hierarchy; nothing was written at the output path."""


@dataclass(frozen=True)
class Counts:
    provinces: int
    districts: int
    communes: int


@dataclass(frozen=True)
class ImportResult:
    output: Path
    shape: str
    version: str  # of vietnam-provinces
    data_version: str | None  # the date the package's data was retrieved
    units: int
    written: Counts  # counted in the validated file
    package: Counts  # counted in the package's own data
    seconds: float


def cache_dir(default: Path | None) -> Path:
    """Where the throwaway virtualenvs live: $CHIDAO_IMPORTER_CACHE, else the caller's default (the CLI gives
    DATA_DIR/importers)."""
    found = os.environ.get(CACHE_ENV)
    if found:
        return Path(found)
    if default is None:
        raise ImportFailed(f"no folder for the importer's virtualenvs: set {CACHE_ENV}")
    return default


def import_vietnam_provinces(
    output: str | Path,
    shape: str = "2025",
    *,
    departments: Sequence[str] | None = None,
    enterprises: Sequence[str] | None = None,
    district_branches: bool = False,
    cache: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ImportResult:
    """Write the national hierarchy of `shape` ("2025" or "pre2025") to `output`, validated and counted.

    departments: the Sở under each province's committee (keys of DEPARTMENTS); the first carries the
    districts and communes (default: STTTT before 2025, SKHCN after). enterprises: the press and
    enterprises under it (keys of ENTERPRISES; default all). district_branches: pre2025 only, the post,
    VNPT and Viettel branches under each district office, as in the Lạng Sơn example. cache: the folder of
    the throwaway virtualenvs, unless $CHIDAO_IMPORTER_CACHE names one. Raises ImportFailed,
    leaving no file at `output`, when anything goes wrong or the counts differ from the package's.
    """
    started = time.monotonic()
    output = Path(output)
    if shape not in SHAPES:
        raise ImportFailed(f"unknown shape {shape!r} (known: {', '.join(SHAPES)})")
    args = ["--shape", shape]
    if departments is not None:
        chosen = _known(departments, DEPARTMENTS, "department")
        if not chosen:
            raise ImportFailed("at least one department is needed: the first carries the districts and communes")
        args += ["--departments", ",".join(chosen)]
    if enterprises is not None:
        args += ["--enterprises", ",".join(_known(enterprises, ENTERPRISES, "enterprise"))]
    if district_branches:
        if shape != "pre2025":
            raise ImportFailed("district branches exist only in the pre2025 shape (there are no districts after)")
        args.append("--district-branches")
    if not output.parent.is_dir():
        raise ImportFailed(f"no such directory: {output.parent}")

    version = SHAPES[shape]
    python = ensure_venv(version, cache_dir(cache), progress)
    with tempfile.TemporaryDirectory(prefix="chidao-import-") as work:
        counts_file = Path(work) / "counts.json"
        # The file is written next to the output, so that putting it in place is one atomic rename.
        fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".partial")
        os.close(fd)
        partial = Path(name)
        try:
            progress(f"Generating the {shape} hierarchy from vietnam-provinces {version}…")
            # -I: the script's own folder must not come first on sys.path, or this module, named like the
            # package, would be imported in its place.
            command = [str(python), "-I", str(GENERATOR), *args, "--out", str(partial), "--counts", str(counts_file)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise ImportFailed(f"the generator failed: {_tail(done.stderr or done.stdout)}")
            progress("Validating it…")
            try:
                hierarchy = load_hierarchy(partial)
            except InputError as exc:
                shown = "\n  ".join(str(p) for p in exc.problems[:10])
                more = f"\n  … and {len(exc.problems) - 10} more" if len(exc.problems) > 10 else ""
                raise ImportFailed(f"the generated hierarchy is not valid:\n  {shown}{more}") from None
            package = json.loads(counts_file.read_text(encoding="utf-8"))
            written = compare(hierarchy, package)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    return ImportResult(
        output=output,
        shape=shape,
        version=package["version"],
        data_version=package.get("data_version"),
        units=len(hierarchy),
        written=written,
        package=Counts(len(package["provinces"]), len(package["districts"]), len(package["communes"])),
        seconds=time.monotonic() - started,
    )


def compare(hierarchy: Hierarchy, package: dict[str, list[str]]) -> Counts:
    """The file's provinces, districts and communes, which must be exactly the package's, code for code."""
    codes: dict[str, set[str]] = {"provinces": set(), "districts": set(), "communes": set()}
    for code in hierarchy.graph:
        roles = hierarchy.unit(code).roles
        if "province_committee" in roles:
            codes["provinces"].add(code)
        if "culture_office" in roles:  # one office a district, coded "<district code>.VHTT"
            codes["districts"].add(code.split(".")[0])
        if "commune_committee" in roles:
            codes["communes"].add(code)
    problems = []
    for what, found in codes.items():
        wanted = set(package[what])
        if found != wanted:
            missing, extra = sorted(wanted - found), sorted(found - wanted)
            problems.append(
                f"{what}: {len(found)} in the file, {len(wanted)} in the package"
                f" (missing {', '.join(missing[:5]) or 'none'}; not in the package {', '.join(extra[:5]) or 'none'})"
            )
    if problems:
        raise ImportFailed("the file does not match the package: " + "; ".join(problems))
    return Counts(len(codes["provinces"]), len(codes["districts"]), len(codes["communes"]))


def ensure_venv(version: str, cache: Path, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The Python of a virtualenv with vietnam-provinces==version and PyYAML, created on first use."""
    home = cache / f"vietnam-provinces-{version}"
    python = _python(home)
    if (home / _READY).is_file() and python.is_file():
        return python
    if home.exists():  # cut short earlier: start again
        shutil.rmtree(home)
    home.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final place and renamed, so a venv interrupted half-way is never taken as ready.
    building = Path(tempfile.mkdtemp(dir=home.parent, prefix=f"{home.name}.partial-"))
    try:
        progress(f"Creating a virtualenv for vietnam-provinces {version} in {home}…")
        _run([sys.executable, "-m", "venv", "--clear", str(building)], "could not create a virtualenv")
        progress(f"Installing vietnam-provinces=={version} and PyYAML with pip (GPL-3.0; kept in that venv only)…")
        _run(
            [
                str(_python(building)),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--quiet",
                f"vietnam-provinces=={version}",
                "pyyaml>=6,<7",
            ],
            f"pip could not install vietnam-provinces=={version} (is the package index reachable?)",
        )
        (building / _READY).write_text(version, encoding="utf-8")
        try:
            building.rename(home)
        except OSError:  # another import finished first: use its venv
            if not (home / _READY).is_file():
                raise
    finally:
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return python


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(command: list[str], failure: str) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ImportFailed(f"{failure}: {exc}") from None
    if done.returncode != 0:
        raise ImportFailed(f"{failure}: {_tail(done.stderr or done.stdout)}")


def _tail(text: str, lines: int = 8) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n  ".join(kept) or "(no output)"


def _known(chosen: Sequence[str], table: Sequence[str] | dict[str, str], what: str) -> list[str]:
    keys = [k.strip() for k in chosen if k.strip()]
    unknown = [k for k in keys if k not in table]
    if unknown:
        raise ImportFailed(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(table)})")
    return keys
