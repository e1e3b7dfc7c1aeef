"""Generate the Lạng Sơn example hierarchies from the `vietnam-provinces` package.

Two files, one per shape of the administrative map:

- ``hierarchy.yaml``       before 1 July 2025, the world of the seed letters:
                           UBND tỉnh → Sở TTTT → Phòng VHTT of each huyện / thành phố → UBND xã, phường, thị trấn;
- ``hierarchy-2025.yaml``  from 1 July 2025, two levels: UBND tỉnh → Sở KH&CN → UBND xã, phường.

How to run it. The package's two data versions cannot be installed together, so each shape is
generated in its own throwaway virtualenv, outside the repository, and the script checks that the
installed version is the one the shape needs (Python 3.11; stdlib + PyYAML + vietnam-provinces):

    python3 -m venv /tmp/vp06 && /tmp/vp06/bin/pip install vietnam-provinces==0.6.0 pyyaml
    /tmp/vp06/bin/python examples/langson/generate_hierarchy.py --shape pre2025   # -> hierarchy.yaml

    python3 -m venv /tmp/vp25 && /tmp/vp25/bin/pip install vietnam-provinces==2025.10.1 pyyaml
    /tmp/vp25/bin/python examples/langson/generate_hierarchy.py --shape 2025      # -> hierarchy-2025.yaml

Licence. `vietnam-provinces` is GPL-3.0. It is used only by this import script, never by chidao
itself (chidao neither depends on it nor imports it); what the script writes are lists of
administrative units with their official codes and names, which are public facts.

Codes. Administrative units keep their official (GSO) codes, zero-padded as published: province 2
digits ("20"), district 3 ("183"), commune 5 ("05971"). Agencies and enterprises have no code in that
data set; they get codes built on their area's code ("20.STTTT", "183.VHTT", "183.VNPT").
E-mail addresses use the reserved ``.example`` TLD and are derived from the codes.
Officials' names other than those printed on the seed letters are placeholders ("Nguyễn Văn A").
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROVINCE_NAME = "Lạng Sơn"
DOMAIN = "langson.example"
SHAPES = {
    # shape: (package version, output file)
    "pre2025": ("0.6.0", "hierarchy.yaml"),
    "2025": ("2025.10.1", "hierarchy-2025.yaml"),
}

# The role table of docs/hierarchy-format.md, in its order (the order of "Kính gửi" lines).
ROLES: dict[str, dict[str, str]] = {
    "radio": {"name": "đài phát thanh - truyền hình", "group": "Các đài phát thanh, truyền hình"},
    "press": {"name": "báo", "group": "Các cơ quan báo chí"},
    "postal": {"name": "doanh nghiệp bưu chính", "group": "Các doanh nghiệp Bưu chính, Viễn thông"},
    "telecom": {"name": "doanh nghiệp viễn thông", "group": "Các doanh nghiệp Bưu chính, Viễn thông"},
    "culture_office": {
        "name": "phòng văn hóa và thông tin cấp huyện",
        "group": "Phòng Văn hóa và Thông tin các huyện, thành phố",
    },
    "culture_centre": {
        "name": "trung tâm văn hóa, thể thao và truyền thông",
        "group": "Các trung tâm văn hóa, thể thao và truyền thông",
    },
    "commune_committee": {"name": "ủy ban nhân dân cấp xã", "group": "UBND các xã, thị trấn"},
}

# People printed on the seed letters.
SEED_PEOPLE = {
    "stttt_deputy": "Phương Thị Hương Lan",  # seed 001: KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC, Sở TTTT
    "Cao Lộc": "Hoàng Thị Phương Huệ",  # seed 000: TRƯỞNG PHÒNG, Phòng VHTT Cao Lộc
}


# Division-type words as they open the package's names, longest first ("Thị trấn" before "Thị xã").
def _shared() -> Any:
    """The national importer's generator (stdlib, PyYAML and the package only, like this script): the
    conventions both files follow (type words, slugs, placeholder names, the unit record, YAML output) live
    there once; Lạng Sơn's part of its national file is, unit for unit, what this script writes."""
    path = HERE.parent.parent / "hierarchy" / "importers" / "vietnam_provinces_conventions.py"
    spec = importlib.util.spec_from_file_location("vietnam_provinces_conventions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_conventions = _shared()
nfc = _conventions.nfc
split_type = _conventions.split_type
ascii_slug = _conventions.ascii_slug
Placeholders = _conventions.Placeholders
unit = _conventions.unit
dump = _conventions.dump


# ---------------------------------------------------------------------------------------------
# Reading the package


def check_version(shape: str) -> str:
    wanted = SHAPES[shape][0]
    try:
        version = metadata.version("vietnam-provinces")
    except metadata.PackageNotFoundError:
        raise SystemExit(
            f"--shape {shape} needs vietnam-provinces=={wanted} installed (in a throwaway venv; see the docstring)"
        ) from None
    if version != wanted:
        raise SystemExit(f"--shape {shape} needs vietnam-provinces=={wanted}; this environment has {version}")
    return version


def read_pre2025() -> tuple[Any, list[tuple[Any, list[Any]]]]:
    """vietnam-provinces 0.6.0: the province, and its districts each with its wards, by code."""
    from vietnam_provinces.enums import DistrictEnum, ProvinceEnum
    from vietnam_provinces.enums.wards import WardEnum

    (province,) = [p.value for p in ProvinceEnum if split_type(p.value.name)[1] == PROVINCE_NAME]
    districts = sorted((d.value for d in DistrictEnum if d.value.province_code == province.code), key=lambda d: d.code)
    codes = {d.code for d in districts}
    wards = sorted((w.value for w in WardEnum if w.value.district_code in codes), key=lambda w: w.code)
    return province, [(d, [w for w in wards if w.district_code == d.code]) for d in districts]


def read_2025() -> tuple[Any, list[Any]]:
    """vietnam-provinces 2025.10.1: the province and its communes (xã, phường, đặc khu), by code."""
    from vietnam_provinces import Province, Ward

    (province,) = [p for p in Province.iter_all() if split_type("Tỉnh " + p.name)[1] == PROVINCE_NAME]
    wards = sorted(Ward.iter_by_province(province.code), key=lambda w: int(w.code))
    for w in wards:  # in 2025 the package's division_type is right: cross-check the name
        if split_type(w.name)[0] != w.division_type.value:
            raise ValueError(f"{w.name!r}: name and division type {w.division_type.value!r} disagree")
    return province, wards


# ---------------------------------------------------------------------------------------------
# Building units


def provincial_committee(code: str, people: Placeholders) -> dict[str, Any]:
    chair, vice = people.next(), people.next()
    return unit(
        code,
        f"Ủy ban nhân dân tỉnh {PROVINCE_NAME}",
        "province",
        "committee",
        "tỉnh",
        PROVINCE_NAME,
        f"ubnd@{DOMAIN}",
        abbreviation="UBND",
        signer={"authority": "TM. ỦY BAN NHÂN DÂN", "position": "CHỦ TỊCH", "name": chair},
        approvers=[
            {"id": "ubnd-langson-ct", "name": chair, "position": "CHỦ TỊCH"},
            {"id": "ubnd-langson-pct", "name": vice, "position": "PHÓ CHỦ TỊCH"},
        ],
    )


def department(
    province: str, name: str, abbreviation: str, people: Placeholders, deputy: str | None = None, **more: Any
) -> dict[str, Any]:
    director = people.next()
    deputy_id, deputy = ("pgd-lan", deputy) if deputy else ("pgd", people.next())
    slug = abbreviation.lower()
    return unit(
        f"{province}.{abbreviation}",
        name,
        "province",
        "department",
        "tỉnh",
        PROVINCE_NAME,
        f"{slug}@{DOMAIN}",
        parent=province,
        link="direct",
        short_name="Sở",
        parent_body=f"UBND tỉnh {PROVINCE_NAME}",
        abbreviation=abbreviation,
        drafting_unit="VP",
        copies=["Lãnh đạo Sở", "Các phòng CM, VP"],
        signer={"position": "GIÁM ĐỐC", "name": director},
        approvers=[
            {"id": f"{slug}-langson-gd", "name": director, "position": "GIÁM ĐỐC"},
            {"id": f"{slug}-langson-{deputy_id}", "name": deputy, "position": "PHÓ GIÁM ĐỐC"},
        ],
        **more,
    )


def provincial_partners(province: str, parent: str, merged_media: bool) -> list[dict[str, Any]]:
    """Press and enterprises at the province level: the department only requests their cooperation."""

    def partner(suffix: str, name: str, roles: list[str], kind: str, **more: Any) -> dict[str, Any]:
        return unit(
            f"{province}.{suffix}",
            name,
            "province",
            kind,
            "tỉnh",
            PROVINCE_NAME,
            f"{suffix.lower()}@{DOMAIN}",
            parent=parent,
            link="request",
            roles=roles,
            **more,
        )

    if merged_media:  # 2025: the newspaper and the station merged into one agency
        media = [partner("BPTTH", f"Báo và Phát thanh, Truyền hình {PROVINCE_NAME}", ["press", "radio"], "press")]
    else:
        media = [
            partner("BAO", f"Báo {PROVINCE_NAME}", ["press"], "press"),
            partner(
                "PTTH",
                f"Đài Phát thanh và Truyền hình tỉnh {PROVINCE_NAME}",
                ["radio"],
                "press",
                addressed_as="Đài Phát thanh và Truyền hình tỉnh",
            ),
        ]
    return [
        *media,
        partner("BDT", f"Bưu điện tỉnh {PROVINCE_NAME}", ["postal"], "enterprise"),
        partner("VTPOST", f"Viettel Post {PROVINCE_NAME}", ["postal"], "enterprise"),
        partner("VNPT", f"VNPT {PROVINCE_NAME}", ["telecom"], "enterprise"),
        partner("VIETTEL", f"Viettel {PROVINCE_NAME}", ["telecom"], "enterprise"),
        partner("MOBIFONE", f"MobiFone {PROVINCE_NAME}", ["telecom"], "enterprise"),
    ]


def commune(ward: Any, parent: str) -> dict[str, Any]:
    scope, area = split_type(ward.name)
    code = f"{int(ward.code):05d}"
    return unit(
        code,
        f"UBND {scope} {area}",
        "commune",
        "committee",
        scope,
        area,
        f"ubnd.{code}@{DOMAIN}",
        parent=parent,
        link="request",
        roles=["commune_committee"],
        # The commune's culture and society officer submits its reports (a placeholder person).
        reporters=[{"id": f"vhxh-{code}", "name": f"Công chức Văn hóa - Xã hội {scope} {area}"}],
    )


def district_office(district: Any, wards: list[Any], parent: str, people: Placeholders) -> list[dict[str, Any]]:
    """A district's Phòng VHTT, and under it the culture centre, the enterprises' branches, the communes."""
    scope, area = split_type(district.name)
    code = f"{district.code:03d}"
    office = f"{code}.VHTT"
    head = SEED_PEOPLE.get(area) or people.next()
    deputy = people.next()
    slug = ascii_slug(area) if scope == "huyện" else "tp" + ascii_slug(area)
    commune_kinds = {split_type(w.name)[0] for w in wards}
    groups = {}
    if "phường" in commune_kinds:
        groups["commune_committee"] = "UBND các phường, xã"
    elif "thị trấn" not in commune_kinds:
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
            f"vhtt.{code}@{DOMAIN}",
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
    branches = [
        ("TTVHTT", "Trung tâm Văn hóa, Thể thao và Truyền thông", ["culture_centre"], "centre", "direct"),
        ("BD", f"Bưu điện {scope} {area}", ["postal"], "enterprise", "request"),
        ("VNPT", f"Trung tâm Viễn thông {local}", ["telecom"], "enterprise", "request"),
        ("VIETTEL", f"Viettel {local}", ["telecom"], "enterprise", "request"),
    ]
    for suffix, name, roles, kind, link in branches:
        units.append(
            unit(
                f"{code}.{suffix}",
                name,
                "district",
                kind,
                scope,
                area,
                f"{suffix.lower()}.{code}@{DOMAIN}",
                parent=office,
                link=link,
                roles=roles,
            )
        )
    units += [commune(w, office) for w in wards]
    return units


def build_pre2025() -> dict[str, Any]:
    province, districts = read_pre2025()
    root = f"{province.code:02d}"
    people = Placeholders()
    committee = provincial_committee(root, people)
    dept = department(root, "Sở Thông tin và Truyền thông", "STTTT", people, deputy=SEED_PEOPLE["stttt_deputy"])
    units = [committee, dept]
    units += provincial_partners(root, dept["code"], merged_media=False)
    for district, wards in districts:
        units += district_office(district, wards, dept["code"], people)
    return {
        "hierarchy": {
            "name": f"{PROVINCE_NAME} trước 01/7/2025: tỉnh → sở → huyện → xã",
            "version": "2024.1",
            "root": root,
        },
        "roles": ROLES,
        "units": units,
    }


def build_2025() -> dict[str, Any]:
    province, wards = read_2025()
    root = f"{int(province.code):02d}"
    people = Placeholders()
    kinds = {split_type(w.name)[0] for w in wards}
    label = "UBND các " + ", ".join(k for k in ("xã", "phường", "đặc khu") if k in kinds)  # "UBND các xã, phường"
    committee = provincial_committee(root, people)
    dept = department(root, "Sở Khoa học và Công nghệ", "SKHCN", people, groups={"commune_committee": label})
    units = [committee, dept]
    units += provincial_partners(root, dept["code"], merged_media=True)
    units += [commune(w, dept["code"]) for w in wards]
    return {
        "hierarchy": {"name": f"{PROVINCE_NAME} từ 01/7/2025: tỉnh → sở → xã", "version": "2025.1", "root": root},
        "roles": ROLES,
        "units": units,
    }


# ---------------------------------------------------------------------------------------------
# Checking and writing


def check(tree: dict[str, Any]) -> list[str]:
    """The structural rules of docs/hierarchy-format.md; returns the problems found."""
    problems = []
    units = tree["units"]
    by_code: dict[str, dict[str, Any]] = {}
    for u in units:
        if u["code"] in by_code:
            problems.append(f"duplicate code {u['code']}")
        by_code[u["code"]] = u
    emails = Counter(u["email"] for u in units)
    problems += [f"duplicate email {e}" for e, n in emails.items() if n > 1]
    problems += [f"{u['code']}: non-ascii email" for u in units if not u["email"].isascii()]
    root = tree["hierarchy"]["root"]
    parents = set()
    for u in units:
        for field in ("code", "name", "level", "kind", "place", "scope", "area", "email"):
            if not isinstance(u.get(field), str) or not u[field]:
                problems.append(f"{u['code']}: missing {field}")
        if any(r not in tree["roles"] for r in u["roles"]):
            problems.append(f"{u['code']}: undeclared role in {u['roles']}")
        if u["code"] == root:
            if "parent" in u:
                problems.append("the root has a parent")
            continue
        if u.get("parent") not in by_code or u.get("link") not in ("direct", "request"):
            problems.append(f"{u['code']}: bad parent/link")
            continue
        parents.add(u["parent"])
        seen, at = {u["code"]}, u["parent"]
        while at != root:  # every chain ends at the root: no cycles, nothing unreachable
            if at in seen or at not in by_code:
                problems.append(f"{u['code']}: does not reach the root")
                break
            seen.add(at)
            at = by_code[at].get("parent")
    for code in parents:
        for field in ("abbreviation", "signer", "approvers"):
            if not by_code[code].get(field):
                problems.append(f"{code}: has children but no {field}")
    ids = Counter(a["id"] for u in units for a in u.get("approvers", []))
    problems += [f"duplicate approver id {i}" for i, n in ids.items() if n > 1]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=list(SHAPES), required=True, help="pre2025 (0.6.0) or 2025 (2025.10.1)")
    parser.add_argument("--out", type=Path, help="output file (default: next to this script)")
    args = parser.parse_args()
    version = check_version(args.shape)
    tree = build_pre2025() if args.shape == "pre2025" else build_2025()
    problems = check(tree)
    if problems:
        sys.exit("not written:\n  " + "\n  ".join(problems))

    out = args.out or HERE / SHAPES[args.shape][1]
    header = (
        f"# Generated by examples/langson/generate_hierarchy.py --shape {args.shape} from vietnam-provinces {version}\n"
        "# (GPL-3.0, used by that script only; the unit lists are public facts). Do not edit: rerun the script.\n"
        "# Codes: official GSO codes for administrative units; '<area code>.<ABBR>' for agencies and enterprises.\n"
        "# Officials' names other than those on the seed letters are placeholders.\n"
    )
    out.write_text(header + dump(tree), encoding="utf-8")

    units = tree["units"]
    communes = [u for u in units if "commune_committee" in u["roles"]]
    offices = [u for u in units if "culture_office" in u["roles"]]
    print(f"{out}: {len(units)} units, {len(offices)} district-level units, {len(communes)} communes")
    print("  commune types:", dict(Counter(u["scope"] for u in communes)))
    for office in offices:
        mine = [u for u in communes if u["parent"] == office["code"]]
        print(
            f"  {office['code']} {office['parent_body']}: {len(mine)} communes, {mine[0]['name']} … {mine[-1]['name']}"
        )


if __name__ == "__main__":
    main()
