"""How the desk and the command line word things for Vietnamese readers: a unit named with its place, and
figures in Vietnamese style."""

from __future__ import annotations

import math

from hierarchy.model import Unit
from inputs.vietnamese import nfc

_BODY_PREFIXES = ("UBND ", "Ủy ban nhân dân ", "Uỷ ban nhân dân ", "ỦY BAN NHÂN DÂN ")


def unit_label(unit: Unit) -> str:
    """The unit with its place, as a list tells eleven district offices apart: "Phòng Văn hóa và Thông tin
    huyện Cao Lộc" (the place from its parent body, "UBND huyện Cao Lộc", else its scope and area); a name
    that says its place already ("UBND thị trấn Đồng Đăng") is kept."""
    name, area = nfc(unit.name), nfc(unit.area)
    if area.casefold() in name.casefold():
        return name
    body = nfc(unit.parent_body or "")
    for prefix in _BODY_PREFIXES:
        if body.startswith(prefix):
            place = body[len(prefix) :].strip()
            if area.casefold() in place.casefold():
                return f"{name} {place}"
    return f"{name} {nfc(unit.scope)} {area}"


def vn_number(value: float | int | None, decimals: int = 2) -> str:
    """1.250; 97,5; -3 (thousands by dots, the decimal comma, at most `decimals` places, no trailing zeros)."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    rounded = round(float(value), decimals)
    negative = rounded < 0
    whole, _, frac = f"{abs(rounded):.{decimals}f}".partition(".")
    frac = frac.rstrip("0")
    text = f"{int(whole):,}".replace(",", ".") + (f",{frac}" if frac else "")
    return f"-{text}" if negative else text
