import unicodedata
from datetime import date

from inputs.vietnamese import nfc, nfc_deep, upper, vn_sort_key
from letters.dates import long_date, short_date


def test_nfd_input_becomes_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Lạng Sơn")
    assert nfd != "Lạng Sơn"
    assert nfc(nfd) == "Lạng Sơn"
    assert nfc_deep({nfd: [nfd, 3]}) == {"Lạng Sơn": ["Lạng Sơn", 3]}


def test_vietnamese_collation_puts_own_letters_after_their_base() -> None:
    names = ["Đồng Đăng", "Dương", "Ăn Khê", "An Lạc", "Âu Cơ", "Bình Gia", "Ơn", "Ô Mê", "Ưu", "Uy"]
    assert sorted(names, key=vn_sort_key) == [
        "An Lạc",
        "Ăn Khê",
        "Âu Cơ",
        "Bình Gia",
        "Dương",
        "Đồng Đăng",
        "Ô Mê",
        "Ơn",
        "Uy",
        "Ưu",
    ]


def test_collation_orders_tones_after_letters() -> None:
    assert sorted(["bà", "ba", "bá", "bả", "bạ", "bã", "bac"], key=vn_sort_key) == [
        "ba",
        "bà",
        "bả",
        "bã",
        "bá",
        "bạ",
        "bac",
    ]


def test_collation_is_the_same_for_nfd_text() -> None:
    assert vn_sort_key(unicodedata.normalize("NFD", "Văn Lãng"))[:2] == vn_sort_key("Văn Lãng")[:2]


def test_headers_capitalise_vietnamese_letters() -> None:
    assert upper("UBND tỉnh Lạng Sơn") == "UBND TỈNH LẠNG SƠN"
    assert upper("Phòng Văn hóa và Thông tin") == "PHÒNG VĂN HÓA VÀ THÔNG TIN"


def test_dates_follow_the_decree_leading_zero_rule() -> None:
    assert long_date(date(2024, 2, 5)) == "ngày 05 tháng 02 năm 2024"
    assert long_date(date(2024, 3, 20)) == "ngày 20 tháng 3 năm 2024"
    assert long_date(date(2024, 1, 9)) == "ngày 09 tháng 01 năm 2024"
    assert long_date(date(2024, 12, 31)) == "ngày 31 tháng 12 năm 2024"
    assert short_date(date(2024, 3, 20)) == "20/3/2024"
    assert short_date(date(2024, 2, 5)) == "05/02/2024"


def test_a_draft_date_leaves_the_day_blank() -> None:
    text = long_date(date(2024, 3, 1), blank_day=True)
    assert text.startswith("ngày ") and text.endswith(" tháng 3 năm 2024")
    assert not any(ch.isdigit() for ch in text.split("tháng")[0])
