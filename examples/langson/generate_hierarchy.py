"""Generate the Lạng Sơn example hierarchies from the `vietnam-provinces` package.

Run it in a throwaway virtualenv, never in chidao's own: the package is GPL-3.0 and chidao does not
depend on it; only this import script uses it, and the unit lists it writes are public facts.
Its two data versions cannot be installed side by side:

    python3 -m venv /tmp/vp06 && /tmp/vp06/bin/pip install vietnam-provinces==0.6.0 pyyaml
    /tmp/vp06/bin/python examples/langson/generate_hierarchy.py --shape pre2025   # hierarchy.yaml

    python3 -m venv /tmp/vp25 && /tmp/vp25/bin/pip install vietnam-provinces==2025.10.1 pyyaml
    /tmp/vp25/bin/python examples/langson/generate_hierarchy.py --shape 2025      # hierarchy-2025.yaml

Administrative units keep their official codes (province 2 digits, district 3, commune 5). Agencies and
enterprises have no code in that data set; they get codes built on their area's code (20.STTTT, 183.VHTT).
Officials' names other than those printed on the seed letters are placeholders.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
PROVINCE = 20
DOMAIN = "langson.example"
ROLES = {
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
PLACEHOLDER_NAMES = [
    "Nguyễn Văn A",
    "Trần Thị B",
    "Lê Văn C",
    "Phạm Thị D",
    "Hoàng Văn E",
    "Vũ Thị G",
    "Đặng Văn H",
    "Bùi Thị K",
    "Đỗ Văn L",
    "Ngô Thị M",
    "Dương Văn N",
    "Lý Thị P",
]
TYPES = ("Thành phố", "Thị trấn", "Huyện", "Phường", "Xã")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def split_type(name: str) -> tuple[str, str]:
    """'Thị trấn Đồng Đăng' -> ('thị trấn', 'Đồng Đăng')."""
    for kind in TYPES:
        if name.startswith(kind + " "):
            return kind.lower(), name[len(kind) + 1 :]
    raise ValueError(f"unknown division type in {name!r}")


def unit(code: str, name: str, level: str, kind: str, scope: str, area: str, email: str, **more: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code}
    if "parent" in more:
        data["parent"] = more.pop("parent")
        data["link"] = more.pop("link", "direct")
    data |= {
        "name": name,
        "level": level,
        "kind": kind,
        "roles": more.pop("roles", []),
        "place": more.pop("place", area),
        "scope": scope,
        "area": area,
        "email": email,
    }
    return data | more


def committee(code: str, people: list[str]) -> dict[str, Any]:
    return unit(
        code,
        "Ủy ban nhân dân tỉnh Lạng Sơn",
        "province",
        "committee",
        "tỉnh",
        "Lạng Sơn",
        f"ubnd@{DOMAIN}",
        abbreviation="UBND",
        signer={"authority": "TM. ỦY BAN NHÂN DÂN", "position": "CHỦ TỊCH", "name": people[0]},
        approvers=[{"id": "ubnd-langson-ct", "name": people[0]}],
    )


def department(code: str, name: str, abbreviation: str) -> dict[str, Any]:
    return unit(
        code,
        name,
        "province",
        "department",
        "tỉnh",
        "Lạng Sơn",
        f"{abbreviation.lower()}@{DOMAIN}",
        parent=str(PROVINCE),
        short_name="Sở",
        parent_body="UBND tỉnh Lạng Sơn",
        abbreviation=abbreviation,
        drafting_unit="VP",
        copies=["Lãnh đạo Sở", "Các phòng CM, VP"],
        signer={"position": "GIÁM ĐỐC", "name": PLACEHOLDER_NAMES[1]},
        approvers=[
            {"id": f"{abbreviation.lower()}-langson-gd", "name": PLACEHOLDER_NAMES[1]},
            {"id": f"{abbreviation.lower()}-langson-pgd-lan", "name": "Phương Thị Hương Lan"},
        ],
    )


def provincial_partners(parent: str, merged_media: bool) -> list[dict[str, Any]]:
    def partner(suffix: str, name: str, roles: list[str], kind: str, **more: Any) -> dict[str, Any]:
        return unit(
            f"{PROVINCE}.{suffix}",
            name,
            "province",
            kind,
            "tỉnh",
            "Lạng Sơn",
            f"{suffix.lower()}@{DOMAIN}",
            parent=parent,
            link="request",
            roles=roles,
            **more,
        )

    media = (
        [partner("BPTTH", "Báo và Phát thanh, Truyền hình Lạng Sơn", ["press", "radio"], "press")]
        if merged_media
        else [
            partner("BAO", "Báo Lạng Sơn", ["press"], "press"),
            partner(
                "PTTH",
                "Đài Phát thanh và Truyền hình tỉnh Lạng Sơn",
                ["radio"],
                "press",
                addressed_as="Đài Phát thanh và Truyền hình tỉnh",
            ),
        ]
    )
    return [
        *media,
        partner("BDT", "Bưu điện tỉnh Lạng Sơn", ["postal"], "enterprise"),
        partner("VTPOST", "Chi nhánh Bưu chính Viettel Lạng Sơn", ["postal"], "enterprise"),
        partner("VNPT", "Viễn thông Lạng Sơn (VNPT)", ["telecom"], "enterprise"),
        partner("VIETTEL", "Viettel Lạng Sơn", ["telecom"], "enterprise"),
        partner("MOBIFONE", "MobiFone Lạng Sơn", ["telecom"], "enterprise"),
    ]


def commune(ward: dict[str, Any], parent: str) -> dict[str, Any]:
    kind, area = split_type(nfc(ward["name"]))
    code = f"{ward['code']:05d}"
    return unit(
        code,
        f"UBND {kind} {area}",
        "commune",
        "committee",
        kind,
        area,
        f"ubnd.{code}@{DOMAIN}",
        parent=parent,
        link="request",
        roles=["commune_committee"],
    )


def pre2025(province: dict[str, Any]) -> dict[str, Any]:
    units = [
        committee(str(PROVINCE), PLACEHOLDER_NAMES),
        department(f"{PROVINCE}.STTTT", "Sở Thông tin và Truyền thông", "STTTT"),
    ]
    units[1]["signer"] = {"authority": "KT. GIÁM ĐỐC", "position": "PHÓ GIÁM ĐỐC", "name": "Phương Thị Hương Lan"}
    units += provincial_partners(f"{PROVINCE}.STTTT", merged_media=False)
    for i, district in enumerate(province["districts"]):
        kind, area = split_type(nfc(district["name"]))
        code = f"{district['code']:03d}"
        office = f"{code}.VHTT"
        head = "Hoàng Thị Phương Huệ" if area == "Cao Lộc" else PLACEHOLDER_NAMES[(i + 2) % len(PLACEHOLDER_NAMES)]
        wards = district["wards"]
        kinds = {split_type(nfc(w["name"]))[0] for w in wards}
        groups = {}
        if "phường" in kinds:
            groups["commune_committee"] = "UBND các phường, xã"
        elif "thị trấn" not in kinds:
            groups["commune_committee"] = "UBND các xã"
        extra: dict[str, Any] = {"groups": groups} if groups else {}
        units.append(
            unit(
                office,
                "Phòng Văn hóa và Thông tin",
                "district",
                "office",
                kind,
                area,
                f"vhtt.{code}@{DOMAIN}",
                parent=f"{PROVINCE}.STTTT",
                roles=["culture_office"],
                short_name="Phòng",
                parent_body=f"UBND {kind} {area}",
                abbreviation="VHTT",
                copies=["TP, PTP", "VC phụ trách"],
                signer={"position": "TRƯỞNG PHÒNG", "name": head},
                approvers=[
                    {"id": f"vhtt-{code}-tp", "name": head},
                    {"id": f"vhtt-{code}-ptp", "name": PLACEHOLDER_NAMES[(i + 7) % len(PLACEHOLDER_NAMES)]},
                ],
                **extra,
            )
        )
        local = f"{kind} {area}"

        branches = [
            ("TTVHTT", "Trung tâm Văn hóa, Thể thao và Truyền thông", ["culture_centre"], "centre", "direct"),
            ("BD", f"Bưu điện {local}", ["postal"], "enterprise", "request"),
            ("VNPT", f"Trung tâm Viễn thông {area}", ["telecom"], "enterprise", "request"),
            ("VIETTEL", f"Viettel {area}", ["telecom"], "enterprise", "request"),
        ]
        for suffix, name, roles, unit_kind, link in branches:
            units.append(
                unit(
                    f"{code}.{suffix}",
                    name,
                    "district",
                    unit_kind,
                    kind,
                    area,
                    f"{suffix.lower()}.{code}@{DOMAIN}",
                    parent=office,
                    link=link,
                    roles=roles,
                )
            )
        units += [commune(w, office) for w in wards]
    return {
        "hierarchy": {
            "name": "Lạng Sơn trước 01/7/2025: tỉnh → sở → huyện → xã",
            "version": "2024.1",
            "root": str(PROVINCE),
        },
        "roles": ROLES,
        "units": units,
    }


def shape2025(province: dict[str, Any]) -> dict[str, Any]:
    dept = department(f"{PROVINCE}.SKHCN", "Sở Khoa học và Công nghệ", "SKHCN")
    dept["groups"] = {"commune_committee": "UBND các xã, phường"}
    units = [committee(str(PROVINCE), PLACEHOLDER_NAMES), dept]
    units += provincial_partners(dept["code"], merged_media=True)
    units += [commune(w, dept["code"]) for w in province["wards"]]
    return {
        "hierarchy": {"name": "Lạng Sơn từ 01/7/2025: tỉnh → sở → xã", "version": "2025.1", "root": str(PROVINCE)},
        "roles": ROLES,
        "units": units,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=["pre2025", "2025"], required=True)
    args = parser.parse_args()
    version = metadata.version("vietnam-provinces")
    wanted = "0.6.0" if args.shape == "pre2025" else "2025.10.1"
    if version != wanted:
        raise SystemExit(f"--shape {args.shape} needs vietnam-provinces=={wanted}; this environment has {version}")
    import vietnam_provinces

    data = json.loads((Path(vietnam_provinces.__file__).parent / "data" / "nested-divisions.json").read_text("utf-8"))
    (province,) = [p for p in data if p["code"] == PROVINCE]
    tree = pre2025(province) if args.shape == "pre2025" else shape2025(province)
    out = HERE / ("hierarchy.yaml" if args.shape == "pre2025" else "hierarchy-2025.yaml")
    header = (
        f"# Generated by examples/langson/generate_hierarchy.py --shape {args.shape} "
        f"from vietnam-provinces {version} (GPL-3.0; the unit lists are public facts).\n"
        "# Officials' names other than those on the seed letters are placeholders.\n"
    )
    body = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False, width=200, default_flow_style=None)
    out.write_text(header + body, encoding="utf-8")
    communes = sum(1 for u in tree["units"] if "commune_committee" in u["roles"])
    print(f"{out.name}: {len(tree['units'])} units, {communes} communes")


if __name__ == "__main__":
    main()
