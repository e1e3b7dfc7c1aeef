"""Document types and their codes (Decree 30/2020, Appendix III)."""

from __future__ import annotations

from inputs.vietnamese import nfc
from letters.dates import BLANK

# A công văn has no code: its notation is issuer abbreviation + drafting unit.
CODES: dict[str, str | None] = {
    "Công văn": None,
    "Nghị quyết": "NQ",
    "Quyết định": "QĐ",
    "Chỉ thị": "CT",
    "Quy chế": "QC",
    "Quy định": "QyĐ",
    "Thông cáo": "TC",
    "Thông báo": "TB",
    "Hướng dẫn": "HD",
    "Chương trình": "CTr",
    "Kế hoạch": "KH",
    "Phương án": "PA",
    "Đề án": "ĐA",
    "Dự án": "DA",
    "Báo cáo": "BC",
    "Biên bản": "BB",
    "Tờ trình": "TTr",
    "Công điện": "CĐ",
    "Giấy mời": "GM",
}
CONG_VAN = "Công văn"


def canonical_type(name: str) -> str | None:
    """The table's spelling of a type name, matched case-insensitively; None if unknown."""
    wanted = nfc(name).strip().casefold()
    return next((known for known in CODES if known.casefold() == wanted), None)


def notation(doc_type: str, abbreviation: str, drafting_unit: str | None) -> str:
    """'STTTT-TTBCXB' for a công văn, 'KH-UBND' for a kế hoạch."""
    code = CODES[doc_type]
    if code is None:
        return f"{abbreviation}-{drafting_unit}" if drafting_unit else abbreviation
    return f"{code}-{abbreviation}"


def reference(number: int | None, note: str) -> str:
    """'05/KH-UBND'; a draft leaves the number blank for the clerk: '      /KH-UBND'."""
    return f"{number:02d}/{note}" if number is not None else f"{BLANK}/{note}"
