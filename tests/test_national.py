"""The national hierarchy, imported for real from vietnam-provinces in its throwaway virtualenvs.

The virtualenvs are cached under $CHIDAO_IMPORTER_CACHE (default ~/.cache/chidao/importers), so only the
first run installs the package (about 10 s a version, from the package index).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli import main
from hierarchy import Hierarchy, load_hierarchy
from hierarchy.importers import ImportFailed, ImportResult, import_vietnam_provinces
from hierarchy.importers.vietnam_provinces import Counts, compare
from letters.directive import load_directive
from letters.plan import plan_cascade
from tests.conftest import LANGSON

CACHE = os.environ.get("CHIDAO_IMPORTER_CACHE") or str(Path.home() / ".cache" / "chidao" / "importers")


@dataclass(frozen=True)
class Imported:
    result: ImportResult
    path: Path
    hierarchy: Hierarchy


@pytest.fixture(scope="module", autouse=True)
def importer_cache() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHIDAO_IMPORTER_CACHE", CACHE)
        yield CACHE


def run_import(tmp: Path, shape: str) -> Imported:
    path = tmp / f"national-{shape}.yaml"
    result = import_vietnam_provinces(path, shape)
    return Imported(result, path, load_hierarchy(path))


@pytest.fixture(scope="module")
def national_2025(tmp_path_factory: pytest.TempPathFactory, importer_cache: str) -> Imported:
    return run_import(tmp_path_factory.mktemp("national"), "2025")


@pytest.fixture(scope="module")
def national_pre2025(tmp_path_factory: pytest.TempPathFactory, importer_cache: str) -> Imported:
    return run_import(tmp_path_factory.mktemp("national"), "pre2025")


def codes_with_role(h: Hierarchy, role: str) -> list[str]:
    return [code for code in h.graph if role in h.unit(code).roles]


def subtree(h: Hierarchy, top: str) -> set[str]:
    return {top} | {u.code for level in h.levels(top) for u in level}


def test_2025_has_the_packages_34_provinces_and_3321_communes(national_2025: Imported) -> None:
    result, h = national_2025.result, national_2025.hierarchy
    assert result.version == "2025.10.1"
    assert result.written == result.package == Counts(provinces=34, districts=0, communes=3321)
    assert len(codes_with_role(h, "province_committee")) == 34
    assert len(codes_with_role(h, "commune_committee")) == 3321
    # The ministry, and in each province its committee, Sở KH&CN, the merged press agency and five enterprises.
    assert result.units == len(h) == 1 + 34 * 8 + 3321
    assert h.root == "BKHCN" and [u.code for u in h.children("BKHCN")][:2] == ["01", "04"]


def test_pre2025_has_the_packages_63_provinces_696_districts_10051_communes(national_pre2025: Imported) -> None:
    result, h = national_pre2025.result, national_pre2025.hierarchy
    assert result.version == "0.6.0"
    assert result.written == result.package == Counts(provinces=63, districts=696, communes=10051)
    assert len(codes_with_role(h, "culture_office")) == 696
    # The ministry; per province committee, Sở TTTT, press, radio, five enterprises; per district office, centre.
    assert result.units == len(h) == 1 + 63 * 9 + 696 * 2 + 10051 == 12011
    assert h.root == "BTTTT"


def test_island_districts_without_communes_keep_their_offices(national_pre2025: Imported) -> None:
    h = national_pre2025.hierarchy
    con_dao = h.unit("755.VHTT")
    assert con_dao.parent_body == "UBND huyện Côn Đảo"
    assert [u.code for u in h.children("755.VHTT")] == ["755.TTVHTT"]


def test_units_keep_their_official_codes(national_2025: Imported, national_pre2025: Imported) -> None:
    h25, h24 = national_2025.hierarchy, national_pre2025.hierarchy
    assert h25.unit("01").name == "Ủy ban nhân dân thành phố Hà Nội"
    assert h25.unit("20").name == "Ủy ban nhân dân tỉnh Lạng Sơn"
    assert h25.unit("00070").name == "UBND phường Hoàn Kiếm" and h25.unit("00070").parent == "01.SKHCN"
    assert h24.unit("183.VHTT").parent_body == "UBND huyện Cao Lộc" and h24.unit("183.VHTT").parent == "20.STTTT"
    assert h24.unit("06184").name == "UBND thị trấn Đồng Đăng" and h24.unit("06184").parent == "183.VHTT"
    for h in (h25, h24):
        assert all(len(c) == 2 and c.isdigit() for c in codes_with_role(h, "province_committee"))
        assert all(len(c) == 5 and c.isdigit() for c in codes_with_role(h, "commune_committee"))


def test_codes_stay_strings_and_names_are_nfc(national_2025: Imported, national_pre2025: Imported) -> None:
    for imported in (national_2025, national_pre2025):
        text = imported.path.read_text(encoding="utf-8")
        assert unicodedata.normalize("NFC", text) == text
        units = yaml.safe_load(text)["units"]
        assert all(isinstance(u["code"], str) for u in units)
        assert all(unicodedata.is_normalized("NFC", u["name"]) for u in units)


def test_each_province_mirrors_the_langson_example(national_2025: Imported, national_pre2025: Imported) -> None:
    example_2025 = load_hierarchy(LANGSON / "hierarchy-2025.yaml")
    assert subtree(national_2025.hierarchy, "20") == set(example_2025.graph)
    # Before 2025 the example also has the post, VNPT and Viettel branches of each district (--district-branches).
    example = load_hierarchy(LANGSON / "hierarchy.yaml")
    branches = {c for c in example.graph if c.endswith((".BD", ".VNPT", ".VIETTEL")) and len(c.split(".")[0]) == 3}
    assert subtree(national_pre2025.hierarchy, "20") == set(example.graph) - branches


def test_with_district_branches_langson_is_the_example_unit_for_unit(tmp_path: Path) -> None:
    out = tmp_path / "vn.yaml"
    result = import_vietnam_provinces(out, "pre2025", district_branches=True)
    assert result.units == 12011 + 696 * 3
    h, example = load_hierarchy(out), load_hierarchy(LANGSON / "hierarchy.yaml")
    assert subtree(h, "20") == set(example.graph)
    for code in example.graph:
        mine, theirs = h.unit(code), example.unit(code)
        assert (mine.name, mine.parent_body, mine.link, mine.groups) == (
            theirs.name,
            theirs.parent_body,
            theirs.link,
            theirs.groups,
        )
        assert (mine.signer, [p.name for p in mine.approvers]) == (theirs.signer, [p.name for p in theirs.approvers])


def test_the_seed_directive_reaches_langson_communes_in_the_national_file(national_pre2025: Imported) -> None:
    h = national_pre2025.hierarchy
    plan = plan_cascade(load_directive(LANGSON / "directive-hsg-2023.yaml", h), h, date(2023, 12, 1))
    offices = plan.levels[1]
    assert len(offices) == 11
    reached = {code for draft in offices for code in draft.letter.recipient_units}
    assert "06184" in reached and "183.TTVHTT" in reached


def test_the_command_writes_a_file_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "vn.yaml"
    runner = CliRunner()
    result = runner.invoke(main, ["hierarchy", "import", "vietnam-provinces", "--output", str(out), "--shape", "2025"])
    assert result.exit_code == 0, result.output
    assert "3594 units: 34 provinces, 0 districts, 3321 communes" in result.stdout
    assert "vietnam-provinces 2025.10.1" in result.stdout and "the same codes" in result.stdout
    assert "Validating" in result.stderr
    checked = runner.invoke(main, ["hierarchy", "validate", str(out)])
    assert checked.exit_code == 0 and "valid — 3594 units, 4 levels" in checked.output


def test_departments_and_enterprises_are_configurable(tmp_path: Path) -> None:
    out = tmp_path / "vn.yaml"
    result = import_vietnam_provinces(out, "2025", departments=["SKHCN", "SVHTTDL"], enterprises=["vnpt"])
    h = load_hierarchy(out)
    assert [u.code for u in h.children("20")] == ["20.SKHCN", "20.SVHTTDL"]
    assert [u.code for u in h.children("20.SKHCN") if "commune_committee" not in u.roles] == ["20.VNPT"]
    assert result.units == 1 + 34 * 4 + 3321


def test_a_failed_install_leaves_no_output_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh cache and a pip that may look at no index: the install fails for real.
    monkeypatch.setenv("CHIDAO_IMPORTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = CliRunner().invoke(
        main, ["hierarchy", "import", "vietnam-provinces", "--output", str(out_dir / "vn.yaml"), "--shape", "2025"]
    )
    assert result.exit_code == 1
    assert "pip could not install vietnam-provinces==2025.10.1" in result.stderr
    assert "nothing written" in result.stderr
    assert list(out_dir.iterdir()) == []
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []  # no half-made venv taken for a ready one


def test_unknown_enterprise_is_refused_before_anything_is_installed(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["hierarchy", "import", "vietnam-provinces", "--output", str(tmp_path / "vn.yaml"), "--enterprises", "fpt"],
    )
    assert result.exit_code == 1
    assert "unknown enterprise: fpt" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_file_whose_communes_differ_from_the_package_is_refused(national_2025: Imported) -> None:
    codes = {
        "provinces": codes_with_role(national_2025.hierarchy, "province_committee"),
        "districts": [],
        "communes": [*codes_with_role(national_2025.hierarchy, "commune_committee")[1:], "99999"],
    }
    with pytest.raises(ImportFailed, match="communes: 3321 in the file, 3321 in the package"):
        compare(national_2025.hierarchy, codes)
