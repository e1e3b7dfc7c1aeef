"""The conventions of chidao's generated hierarchy files: the ministries, departments, enterprises and roles
they hold, how names are split and slugged, placeholder officials, the unit record and the YAML written.

Standard library and PyYAML only: the national generator (vietnam_provinces_generate.py, run in a throwaway
virtualenv) and examples/langson/generate_hierarchy.py load this file by its path, and chidao imports it
to check the generator's options before it starts one.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import yaml

SHAPES = {"pre2025": "0.6.0", "2025": "2025.10.1"}

# The ministry over the provinces: the line ministry of the department that carries the directive.
MINISTRIES = {
    "pre2025": ("BTTTT", "Bộ Thông tin và Truyền thông"),
    "2025": ("BKHCN", "Bộ Khoa học và Công nghệ"),
}

# Departments a province's committee may have in the file; the first one chosen carries the districts
# and communes, the others are leaves (recipients of the committee's letters).
DEPARTMENTS = {
    "STTTT": "Sở Thông tin và Truyền thông",  # merged into Sở KH&CN on 1 March 2025
    "SKHCN": "Sở Khoa học và Công nghệ",
    "SVHTTDL": "Sở Văn hóa, Thể thao và Du lịch",
    "SGDDT": "Sở Giáo dục và Đào tạo",
}
DEFAULT_DEPARTMENTS = {"pre2025": ["STTTT"], "2025": ["SKHCN"]}

# Press and enterprises at the province level (the department requests their cooperation), and their
# district branches (under each Phòng VHTT, pre2025 only, with --district-branches), as in Lạng Sơn.
ENTERPRISES = ("media", "post", "viettelpost", "vnpt", "viettel", "mobifone")
DISTRICT_BRANCHES = {"post": "BD", "vnpt": "VNPT", "viettel": "VIETTEL"}

# The role table of docs/hierarchy-format.md, in its order, then the roles above the departments.
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
    "province_committee": {
        "name": "ủy ban nhân dân cấp tỉnh",
        "group": "UBND các tỉnh, thành phố trực thuộc Trung ương",
    },
}


def department_role(abbreviation: str) -> str:
    return abbreviation.lower()


# People printed on the seed letters (Lạng Sơn, before 2025).
SEED_PEOPLE = {"stttt_deputy": "Phương Thị Hương Lan", "Cao Lộc": "Hoàng Thị Phương Huệ"}

# Division-type words as they open the package's names, longest first ("Thị trấn" before "Thị xã").
TYPE_WORDS = ("Thành phố", "Thị trấn", "Thị xã", "Huyện", "Quận", "Phường", "Xã", "Đặc khu", "Tỉnh")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def split_type(name: str) -> tuple[str, str]:
    """'Thị trấn Đồng Đăng' -> ('thị trấn', 'Đồng Đăng'); the package's division_type is unreliable in 0.6.0."""
    name = nfc(name)
    for word in TYPE_WORDS:
        if name.lower().startswith(word.lower() + " "):  # "Thành Phố" occurs too
            return word.lower(), name[len(word) + 1 :]
    raise ValueError(f"no division type word in {name!r}")


def split_province(name: str) -> tuple[str, str]:
    """'Tỉnh Lạng Sơn' or (2025) 'Lạng Sơn' -> ('tỉnh', 'Lạng Sơn'); 'Thành phố Huế' -> ('thành phố', 'Huế')."""
    name = nfc(name)
    return split_type(name) if name.startswith(("Tỉnh ", "Thành phố ")) else ("tỉnh", name)


def ascii_slug(text: str) -> str:
    """'Cao Lộc' -> 'caoloc' (for ids and e-mail domains; checked unique, never used as a key)."""
    text = nfc(text).replace("đ", "d").replace("Đ", "D")
    text = unicodedata.normalize("NFD", text)
    return "".join(c for c in text if c.isascii() and c.isalnum()).lower()


class Placeholders:
    """Distinct, obviously placeholder names: Nguyễn Văn A, Trần Thị B, Lê Văn C, … (one series a province)."""

    SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô", "Dương", "Lý")
    LETTERS = ("A", "B", "C", "D", "E", "G", "H", "K", "L", "M", "N", "P", "Q", "R", "S", "T", "U", "V", "X", "Y")
    # The Lạng Sơn example's series for the first 60 ((i mod 12, i mod 20) is unique for i < 60), then
    # other middle names: Hà Nội's 30 districts need about 64.
    MIDDLE = (("Văn", "Thị"), ("Hữu", "Ngọc"), ("Đức", "Thu"), ("Minh", "Thanh"))

    def __init__(self) -> None:
        self.i = 0

    def next(self) -> str:
        i = self.i
        self.i += 1
        middle = self.MIDDLE[i // 60][i % 2]
        return f"{self.SURNAMES[i % 12]} {middle} {self.LETTERS[i % 20]}"


def unit(code: str, name: str, level: str, kind: str, scope: str, area: str, email: str, **more: Any) -> dict[str, Any]:
    """A unit mapping with the file's key order: code, parent, link, name, level, kind, roles, place, …"""
    data: dict[str, Any] = {"code": code}
    if "parent" in more:
        data["parent"] = more.pop("parent")
        data["link"] = more.pop("link")
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


class _Dumper(yaml.SafeDumper):
    """Quotes every string that starts with a digit, so that codes stay strings for any YAML reader."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if value[:1].isdigit() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(tree: dict[str, Any]) -> str:
    text = yaml.dump(tree, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=200, default_flow_style=None)
    return nfc(text)
