"""Write the national hierarchy from the `vietnam-provinces` package (run in its own throwaway venv).

This script is not imported by chidao: `hierarchy.importers.vietnam_provinces` runs it by subprocess with
the Python of a virtualenv that has `vietnam-provinces==<version>` and PyYAML, so it uses only the
standard library, PyYAML and the package (GPL-3.0, never a dependency of chidao). It mirrors, for every
province, what examples/langson/generate_hierarchy.py does for Lạng Sơn, under a ministry:

- ``pre2025`` (0.6.0): Bộ TTTT → UBND tỉnh → Sở TTTT → Phòng VHTT of each district (with its culture
  centre) → UBND of each commune; the provincial press and enterprises under the Sở;
- ``2025`` (2025.10.1): Bộ KH&CN → UBND tỉnh → Sở KH&CN → UBND of each commune; press and enterprises.

Besides the YAML file it writes, with --counts, what the package's own data says independently of the
tree built here (another of its files): provinces, districts and communes with their codes, so the caller
can check the file it validated against the package.

Codes are the official (GSO) codes, zero-padded: province 2 digits, district 3, commune 5; agencies and
enterprises get "<area code>.<ABBR>". E-mail addresses are on the reserved ``.example`` TLD, derived from
codes; officials' names are placeholders ("Nguyễn Văn A").
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections import Counter
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any


def _beside(name: str) -> Any:
    """A module in this script's folder, by its path: run with python -I in the importer's virtualenv, the
    folder is not on sys.path (it holds chidao's module named like the package), and chidao is not installed."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import hierarchy.importers.vietnam_provinces_conventions as _conventions
else:
    _conventions = _beside("vietnam_provinces_conventions")
SHAPES = _conventions.SHAPES
MINISTRIES = _conventions.MINISTRIES
DEPARTMENTS = _conventions.DEPARTMENTS
DEFAULT_DEPARTMENTS = _conventions.DEFAULT_DEPARTMENTS
ENTERPRISES = _conventions.ENTERPRISES
DISTRICT_BRANCHES = _conventions.DISTRICT_BRANCHES
ROLES = _conventions.ROLES
SEED_PEOPLE = _conventions.SEED_PEOPLE
department_role = _conventions.department_role
nfc = _conventions.nfc
split_type = _conventions.split_type
split_province = _conventions.split_province
ascii_slug = _conventions.ascii_slug
Placeholders = _conventions.Placeholders
unit = _conventions.unit
dump = _conventions.dump


# ---------------------------------------------------------------------------------------------
# Reading the package


def check_version(shape: str) -> str:
    wanted = SHAPES[shape]
    try:
        version = metadata.version("vietnam-provinces")
    except metadata.PackageNotFoundError:
        raise SystemExit(f"--shape {shape} needs vietnam-provinces=={wanted} installed") from None
    if version != wanted:
        raise SystemExit(f"--shape {shape} needs vietnam-provinces=={wanted}; this environment has {version}")
    return version


def package() -> Any:
    module = importlib.import_module("vietnam_provinces")
    if Path(module.__file__ or "").parent == Path(__file__).parent:  # chidao's module of that name, not the package
        raise SystemExit("run this script with python -I, so that its own folder is not on sys.path")
    return module


def read_pre2025() -> list[tuple[dict[str, Any], list[tuple[dict[str, Any], list[dict[str, Any]]]]]]:
    """0.6.0: provinces, each with its districts, each with its communes, by code. From the nested file:
    the enums leave out the five island districts that have no communes (Bạch Long Vĩ, Cồn Cỏ, Hoàng Sa,
    Lý Sơn, Côn Đảo), which still have their district offices."""
    nested = json.loads(Path(package().NESTED_DIVISIONS_JSON_PATH).read_text(encoding="utf-8"))
    return [
        (
            p,
            [(d, sorted(d["wards"], key=lambda w: w["code"])) for d in sorted(p["districts"], key=lambda d: d["code"])],
        )
        for p in sorted(nested, key=lambda p: p["code"])
    ]


def read_2025() -> list[tuple[Any, list[Any]]]:
    """2025.10.1: provinces, each with its communes (xã, phường, đặc khu), by code, through the package's API."""
    vp = package()
    provinces = sorted(vp.Province.iter_all(), key=lambda p: int(p.code))
    out = []
    for province in provinces:
        wards = sorted(vp.Ward.iter_by_province(province.code), key=lambda w: int(w.code))
        for w in wards:  # in 2025 the package's division_type is right: cross-check the name
            if split_type(w.name)[0] != w.division_type.value:
                raise ValueError(f"{w.name!r}: name and division type {w.division_type.value!r} disagree")
        out.append((province, wards))
    return out


def package_counts(shape: str) -> dict[str, Any]:
    """Counts and codes straight from a data file of the package other than the one the tree is built from."""
    vp = package()
    if shape == "pre2025":
        rows = json.loads(Path(vp.FLAT_DIVISIONS_JSON_PATH).read_text(encoding="utf-8"))
        provinces = {r["province_code"] for r in rows}
        districts = {r["district_code"] for r in rows}
        communes = {r["ward_code"] for r in rows if r["ward_code"] is not None}
    else:
        nested = json.loads(Path(vp.NESTED_DIVISIONS_JSON_PATH).read_text(encoding="utf-8"))
        provinces = {p["code"] for p in nested}
        districts = set()
        communes = {w["code"] for p in nested for w in p["wards"]}
    return {
        "version": metadata.version("vietnam-provinces"),
        "data_version": getattr(vp, "__data_version__", None),
        "provinces": sorted(f"{c:02d}" for c in provinces),
        "districts": sorted(f"{c:03d}" for c in districts),
        "communes": sorted(f"{c:05d}" for c in communes),
    }


# ---------------------------------------------------------------------------------------------
# Building units


def ministry(shape: str) -> dict[str, Any]:
    code, name = MINISTRIES[shape]
    slug = code.lower()
    return unit(
        code,
        name,
        "central",
        "department",
        "toàn quốc",
        "cả nước",
        f"vanthu@{slug}.example",
        place="Hà Nội",
        short_name="Bộ",
        abbreviation=code,
        drafting_unit="VP",
        copies=["Bộ trưởng (để b/c)", "Các Thứ trưởng"],
        signer={"authority": "KT. BỘ TRƯỞNG", "position": "THỨ TRƯỞNG", "name": "Nguyễn Văn T"},
        approvers=[
            {"id": f"{slug}-tt", "name": "Nguyễn Văn T", "position": "THỨ TRƯỞNG"},
            {"id": f"{slug}-bt", "name": "Trần Văn B", "position": "BỘ TRƯỞNG"},
        ],
    )


class Province:
    """One province's units: its committee, departments, press and enterprises, districts, communes."""

    def __init__(self, code: int, name: str, parent: str, seeds: bool) -> None:
        self.code = f"{code:02d}"
        self.scope, self.area = split_province(name)
        self.slug = ascii_slug(self.area)
        self.domain = f"{self.slug}.example"
        self.parent = parent
        self.people = Placeholders()
        self.seeds = seeds and self.area == "Lạng Sơn"  # the seed letters' people, as in the example

    def committee(self) -> dict[str, Any]:
        chair, vice = self.people.next(), self.people.next()
        return unit(
            self.code,
            f"Ủy ban nhân dân {self.scope} {self.area}",
            "province",
            "committee",
            self.scope,
            self.area,
            f"ubnd@{self.domain}",
            parent=self.parent,
            link="direct",
            roles=["province_committee"],
            abbreviation="UBND",
            signer={"authority": "TM. ỦY BAN NHÂN DÂN", "position": "CHỦ TỊCH", "name": chair},
            approvers=[
                {"id": f"ubnd-{self.slug}-ct", "name": chair, "position": "CHỦ TỊCH"},
                {"id": f"ubnd-{self.slug}-pct", "name": vice, "position": "PHÓ CHỦ TỊCH"},
            ],
        )

    def department(self, abbreviation: str, **more: Any) -> dict[str, Any]:
        director = self.people.next()
        if self.seeds and abbreviation == "STTTT":
            deputy_id, deputy = "pgd-lan", SEED_PEOPLE["stttt_deputy"]
        else:
            deputy_id, deputy = "pgd", self.people.next()
        slug = abbreviation.lower()
        return unit(
            f"{self.code}.{abbreviation}",
            DEPARTMENTS[abbreviation],
            "province",
            "department",
            self.scope,
            self.area,
            f"{slug}@{self.domain}",
            parent=self.code,
            link="direct",
            roles=[department_role(abbreviation)],
            short_name="Sở",
            parent_body=f"UBND {self.scope} {self.area}",
            abbreviation=abbreviation,
            drafting_unit="VP",
            copies=["Lãnh đạo Sở", "Các phòng CM, VP"],
            signer={"position": "GIÁM ĐỐC", "name": director},
            approvers=[
                {"id": f"{slug}-{self.slug}-gd", "name": director, "position": "GIÁM ĐỐC"},
                {"id": f"{slug}-{self.slug}-{deputy_id}", "name": deputy, "position": "PHÓ GIÁM ĐỐC"},
            ],
            **more,
        )

    def partners(self, parent: str, enterprises: Iterable[str], merged_media: bool) -> list[dict[str, Any]]:
        """Press and enterprises at the province level: the department only requests their cooperation."""
        where = f"{self.scope} {self.area}"

        def partner(suffix: str, name: str, roles: list[str], kind: str, **more: Any) -> dict[str, Any]:
            return unit(
                f"{self.code}.{suffix}",
                name,
                "province",
                kind,
                self.scope,
                self.area,
                f"{suffix.lower()}@{self.domain}",
                parent=parent,
                link="request",
                roles=roles,
                **more,
            )

        units: list[dict[str, Any]] = []
        for key in enterprises:
            if key == "media" and merged_media:  # 2025: the newspaper and the station merged into one agency
                units.append(
                    partner("BPTTH", f"Báo và Phát thanh, Truyền hình {self.area}", ["press", "radio"], "press")
                )
            elif key == "media":
                units.append(partner("BAO", f"Báo {self.area}", ["press"], "press"))
                units.append(
                    partner(
                        "PTTH",
                        f"Đài Phát thanh và Truyền hình {where}",
                        ["radio"],
                        "press",
                        addressed_as=f"Đài Phát thanh và Truyền hình {self.scope}",
                    )
                )
            elif key == "post":
                units.append(partner("BDT", f"Bưu điện {where}", ["postal"], "enterprise"))
            elif key == "viettelpost":
                units.append(partner("VTPOST", f"Viettel Post {self.area}", ["postal"], "enterprise"))
            elif key == "vnpt":
                units.append(partner("VNPT", f"VNPT {self.area}", ["telecom"], "enterprise"))
            elif key == "viettel":
                units.append(partner("VIETTEL", f"Viettel {self.area}", ["telecom"], "enterprise"))
            elif key == "mobifone":
                units.append(partner("MOBIFONE", f"MobiFone {self.area}", ["telecom"], "enterprise"))
        return units

    def commune(self, code_number: int, name: str, parent: str) -> dict[str, Any]:
        scope, area = split_type(name)
        code = f"{code_number:05d}"
        return unit(
            code,
            f"UBND {scope} {area}",
            "commune",
            "committee",
            scope,
            area,
            f"ubnd.{code}@{self.domain}",
            parent=parent,
            link="request",
            roles=["commune_committee"],
            # The commune's culture and society officer submits its reports (a placeholder person).
            reporters=[{"id": f"vhxh-{code}", "name": f"Công chức Văn hóa - Xã hội {scope} {area}"}],
        )

    def district(
        self, district: dict[str, Any], wards: list[dict[str, Any]], parent: str, branches: Iterable[str]
    ) -> list[dict[str, Any]]:
        """A district's Phòng VHTT, and under it the culture centre, the enterprises' branches, the communes."""
        scope, area = split_type(district["name"])
        code = f"{district['code']:03d}"
        office = f"{code}.VHTT"
        head = (SEED_PEOPLE.get(area) if self.seeds else None) or self.people.next()
        deputy = self.people.next()
        prefix = {"huyện": "", "thành phố": "tp", "thị xã": "tx", "quận": "q"}[scope]
        slug = f"{self.slug}-{prefix}{ascii_slug(area)}"
        commune_kinds = {split_type(w["name"])[0] for w in wards}
        groups = {}
        if "phường" in commune_kinds:
            groups["commune_committee"] = "UBND các phường, xã" if "xã" in commune_kinds else "UBND các phường"
        elif commune_kinds and "thị trấn" not in commune_kinds:
            groups["commune_committee"] = "UBND các xã"
        local = area if scope == "huyện" else f"{scope} {area}"  # "Cao Lộc", "thành phố Lạng Sơn"
        units = [
            unit(
                office,
                "Phòng Văn hóa và Thông tin",
                "district",
                "office",
                scope,
                area,
                f"vhtt.{code}@{self.domain}",
                parent=parent,
                link="direct",
                roles=["culture_office"],
                short_name="Phòng",
                parent_body=f"UBND {scope} {area}",
                abbreviation="VHTT",
                copies=["TP, PTP", "VC phụ trách"],
                signer={"position": "TRƯỞNG PHÒNG", "name": head},
                approvers=[
                    {"id": f"vhtt-{slug}-tp", "name": head, "position": "TRƯỞNG PHÒNG"},
                    {"id": f"vhtt-{slug}-ptp", "name": deputy, "position": "PHÓ TRƯỞNG PHÒNG"},
                ],
                **({"groups": groups} if groups else {}),
            )
        ]
        below = [("TTVHTT", "Trung tâm Văn hóa, Thể thao và Truyền thông", ["culture_centre"], "centre", "direct")]
        names = {
            "BD": f"Bưu điện {scope} {area}",
            "VNPT": f"Trung tâm Viễn thông {local}",
            "VIETTEL": f"Viettel {local}",
        }
        roles = {"BD": ["postal"], "VNPT": ["telecom"], "VIETTEL": ["telecom"]}
        below += [(suffix, names[suffix], roles[suffix], "enterprise", "request") for suffix in branches]
        for suffix, name, unit_roles, kind, link in below:
            units.append(
                unit(
                    f"{code}.{suffix}",
                    name,
                    "district",
                    kind,
                    scope,
                    area,
                    f"{suffix.lower()}.{code}@{self.domain}",
                    parent=office,
                    link=link,
                    roles=unit_roles,
                )
            )
        units += [self.commune(w["code"], w["name"], office) for w in wards]
        return units


def district_label(scopes: set[str]) -> str | None:
    """The Sở's label for its district offices when it differs from the role's ("các huyện, thành phố")."""
    words = [w for w in ("quận", "huyện", "thị xã", "thành phố") if w in scopes]
    label = "Phòng Văn hóa và Thông tin các " + ", ".join(words)
    return None if label == ROLES["culture_office"]["group"] else label


def build_pre2025(departments: list[str], enterprises: list[str], district_branches: bool) -> dict[str, Any]:
    top = ministry("pre2025")
    units = [top]
    branches = [DISTRICT_BRANCHES[k] for k in enterprises if k in DISTRICT_BRANCHES] if district_branches else []
    for p, districts in read_pre2025():
        province = Province(p["code"], p["name"], top["code"], seeds=True)
        units.append(province.committee())
        label = district_label({split_type(d["name"])[0] for d, _ in districts})
        carrier = province.department(departments[0], **({"groups": {"culture_office": label}} if label else {}))
        units += [carrier, *(province.department(a) for a in departments[1:])]
        units += province.partners(carrier["code"], enterprises, merged_media=False)
        for district, wards in districts:
            units += province.district(district, wards, carrier["code"], branches)
    code, name = MINISTRIES["pre2025"]
    return {
        "hierarchy": {
            "name": f"Cả nước trước 01/7/2025: {name} → tỉnh → sở → huyện → xã",
            "version": "2024.1",
            "root": code,
        },
        "roles": roles(departments),
        "units": units,
    }


def build_2025(departments: list[str], enterprises: list[str]) -> dict[str, Any]:
    top = ministry("2025")
    units = [top]
    for p, wards in read_2025():
        province = Province(int(p.code), p.name, top["code"], seeds=False)
        kinds = {split_type(w.name)[0] for w in wards}
        label = "UBND các " + ", ".join(k for k in ("xã", "phường", "đặc khu") if k in kinds)  # "UBND các xã, phường"
        units.append(province.committee())
        carrier = province.department(departments[0], groups={"commune_committee": label})
        units += [carrier, *(province.department(a) for a in departments[1:])]
        units += province.partners(carrier["code"], enterprises, merged_media=True)
        units += [province.commune(int(w.code), w.name, carrier["code"]) for w in wards]
    code, name = MINISTRIES["2025"]
    return {
        "hierarchy": {"name": f"Cả nước từ 01/7/2025: {name} → tỉnh → sở → xã", "version": "2025.1", "root": code},
        "roles": roles(departments),
        "units": units,
    }


def roles(departments: list[str]) -> dict[str, dict[str, str]]:
    table = dict(ROLES)
    for abbreviation in departments:
        name = DEPARTMENTS[abbreviation]
        table[department_role(abbreviation)] = {"name": name.lower(), "group": f"{name} các tỉnh, thành phố"}
    return table


# ---------------------------------------------------------------------------------------------
# Checking and writing


def check(tree: dict[str, Any]) -> list[str]:
    """What the hierarchy loader does not check but the file must hold: unique e-mails and approver ids."""
    units = tree["units"]
    emails = Counter(u["email"] for u in units)
    problems = [f"duplicate email {e}" for e, n in emails.items() if n > 1]
    problems += [f"{u['code']}: non-ascii email" for u in units if not u["email"].isascii()]
    ids = Counter(a["id"] for u in units for a in [*u.get("approvers", []), *u.get("reporters", [])])
    problems += [f"duplicate approver or reporter id {i}" for i, n in ids.items() if n > 1]
    return problems


def keys(text: str, allowed: Iterable[str], what: str) -> list[str]:
    chosen = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(allowed)})")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shape", choices=list(SHAPES), required=True)
    parser.add_argument("--out", type=Path, required=True, help="the hierarchy YAML file to write")
    parser.add_argument("--counts", type=Path, help="where to write the package's own counts and codes (JSON)")
    parser.add_argument("--departments", help=f"comma-separated, first carries the cascade: {', '.join(DEPARTMENTS)}")
    parser.add_argument("--enterprises", help=f"comma-separated: {', '.join(ENTERPRISES)} (default: all)")
    parser.add_argument("--district-branches", action="store_true", help="district branches of post, VNPT, Viettel")
    args = parser.parse_args()
    version = check_version(args.shape)

    departments = keys(args.departments or ",".join(DEFAULT_DEPARTMENTS[args.shape]), DEPARTMENTS, "department")
    if not departments:
        raise SystemExit("at least one department is needed: the first carries the districts and communes")
    if len(set(departments)) != len(departments):
        raise SystemExit("a department is named twice")
    if args.shape == "2025" and "STTTT" in departments:
        raise SystemExit("Sở TTTT no longer exists in the 2025 shape (merged into Sở KH&CN)")
    enterprises = keys(
        args.enterprises if args.enterprises is not None else ",".join(ENTERPRISES), ENTERPRISES, "enterprise"
    )

    if args.shape == "pre2025":
        tree = build_pre2025(departments, enterprises, args.district_branches)
    else:
        tree = build_2025(departments, enterprises)
    problems = check(tree)
    if problems:
        sys.exit("not written:\n  " + "\n  ".join(problems[:20]))

    header = (
        f"# Generated by `chidao hierarchy import vietnam-provinces --shape {args.shape}`"
        f" from vietnam-provinces {version}\n"
        "# (GPL-3.0, used by the import step only; the unit lists are public facts). Do not edit: import again.\n"
        "# Codes: official GSO codes for administrative units; '<area code>.<ABBR>' for agencies and enterprises.\n"
        "# Officials' names are placeholders.\n"
    )
    args.out.write_text(header + dump(tree), encoding="utf-8")
    if args.counts:
        args.counts.write_text(json.dumps(package_counts(args.shape)), encoding="utf-8")


if __name__ == "__main__":
    main()
