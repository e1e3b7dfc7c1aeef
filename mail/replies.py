"""What a mail server's reply or a sending failure means, in the words of the office that reads it; the
server's own text is kept beside it for the record."""

from __future__ import annotations

import re

_CODES = (
    (r"^55[0-3]\b|5\.1\.[0-9]", "Địa chỉ thư của nơi nhận không tồn tại hoặc máy chủ nhận từ chối."),
    (r"^552\b|5\.[23]\.[0-9]", "Thư quá lớn hoặc hộp thư của nơi nhận đã đầy."),
    (r"^5[0-9][0-9]\b", "Máy chủ thư từ chối thư này."),
    (r"^4[0-9][0-9]\b", "Máy chủ thư tạm thời chưa nhận; sẽ gửi lại tự động."),
)


def explain(detail: str | None) -> str:
    """A reply or failure as recorded ('550 5.1.1 …', 'gave up after 2 attempts: ConnectionRefusedError…')
    in Vietnamese."""
    text = (detail or "").strip()
    if not text:
        return ""
    if text.startswith("cannot be sent"):
        return "Địa chỉ thư không gửi được (sai định dạng hoặc có ký tự máy chủ không nhận)."
    if text.startswith("not tried"):
        return "Chưa thử gửi: không kết nối được máy chủ thư; sẽ gửi lại tự động."
    reply = text.split(": ", 1)[1] if text.startswith("gave up") and ": " in text else text
    if re.search(r"Connect|Refused|Timeout|timed out|Disconnected|OSError|unreachable", reply, re.IGNORECASE):
        return "Không kết nối được máy chủ thư; sẽ gửi lại tự động."
    for pattern, words in _CODES:
        if re.search(pattern, reply):
            return words
    return "Chưa gửi được thư."
