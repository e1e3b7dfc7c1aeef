"""The two digital signatures of an issued letter (Decree 30/2020, Appendix I; PAdES, ETSI EN 319 142).

1. The approver's, when they approve: a certification signature over the letter as approved, its visible
   form the image of their handwritten signature, permitting form filling only (DocMDP P=2), so that the
   next step leaves it intact.
2. The issuing body's, the văn thư's step at issue: the number and the day filled into their fields (one
   incremental update), then the body's signature, its visible form the seal at its real size over the
   left third of the approver's signature, with the body's name and the signing time (ISO 8601, +07:00).

The signing time is set by the caller, so the visible time, the signature's /M and the event log agree.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Coroutine, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.form_tools import populate_static_text_field
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, BoxConstraints, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.stamp import StaticStampStyle, TextStampStyle
from pyhanko_certvalidator import ValidationContext

from letters.fonts import for_pdf_text, missing_glyph
from letters.pdf import DAY, NUMBER, SEAL, SIGNATURE
from signing.keys import KeyProblem


class _KeptFont(GlyphAccumulatorFactory):
    """pyHanko's font engine, given the font's bytes read once per process: its own factory opens the file for
    every signature and never closes it."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_font_bytes(self.font_file)),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


@lru_cache(maxsize=8)
def _font_bytes(path: str) -> bytes:
    return Path(path).read_bytes()


RESERVED = 8192  # hex digits kept for the CMS container (1–3 KB of DER in practice): no size estimate
_T = TypeVar("_T")


def _run(work: Coroutine[Any, Any, _T]) -> _T:
    """pyHanko's signing is async; run it here, or in a thread of its own where a loop already runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    box: dict[str, Any] = {}

    def thread() -> None:
        try:
            box["value"] = asyncio.run(work)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=thread)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def validation_context(trust: list[Any]) -> ValidationContext:
    """Offline, against the configured CAs only (no network: loopback is all chidao reaches)."""
    return ValidationContext(trust_roots=trust, allow_fetching=False, revocation_mode="soft-fail")


async def _sign_field(
    data: bytes,
    signer: signers.Signer,
    meta: signers.PdfSignatureMetadata,
    style: Any,
    when: datetime,
    text: dict[str, str] | None = None,
) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    session = signers.PdfSigner(meta, signer=signer, stamp_style=style).init_signing_session(
        writer, existing_fields_only=True
    )
    session.system_time = when
    validated = await session.perform_presign_validation(writer)
    document = session.prepare_tbs_document(
        validation_info=validated, bytes_reserved=RESERVED, appearance_text_params=text
    )
    prepared, out = document.digest_tbs_document(output=io.BytesIO())
    signed = await document.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(signing_time=when, cades_signed_attrs=meta.cades_signed_attr_spec),
    )
    await signed.post_signature_processing(out)
    assert isinstance(out, io.BytesIO)
    return out.getvalue()


def _refusal(exc: SigningError, owner: str) -> KeyProblem:
    """A certificate pyHanko will not sign with, in words: expired, or not issued by a trusted CA."""
    from pyhanko_certvalidator.errors import ExpiredError, PathBuildingError, RevokedError

    cause = exc.__cause__
    if isinstance(cause, ExpiredError):
        return KeyProblem(f"the certificate of {owner} has expired", "expired")
    if isinstance(cause, RevokedError):
        return KeyProblem(f"the certificate of {owner} has been revoked", "untrusted")
    if isinstance(cause, PathBuildingError):
        return KeyProblem(f"the certificate of {owner} is not issued by a trusted CA", "untrusted")
    return KeyProblem(f"{owner} cannot sign: {exc}")


def sign_approval(
    data: bytes, signer: signers.Signer, image: Path, when: datetime, trust: list[Any], owner: str
) -> bytes:
    """The approver's certification signature on the `chu_ky` field, permitting form filling only."""
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        certify=True,
        docmdp_permissions=MDPPerm.FILL_FORMS,
        reason="Phê duyệt, ký ban hành văn bản",
        validation_context=validation_context(trust),
        signer_key_usage={"digital_signature", "non_repudiation"},
    )
    style = StaticStampStyle(
        background=PdfImage(str(image)),
        background_opacity=1.0,
        border_width=0,
        background_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MID,
            margins=Margins(1, 1, 1, 1),
            inner_content_scaling=InnerScaling.SHRINK_TO_FIT,
        ),
    )
    try:
        return _run(_sign_field(data, signer, meta, style, when))
    except SigningError as exc:
        raise _refusal(exc, owner) from None


def _field_style(face: str, align: AxisAlignment, height: float = 17.0) -> TextBoxStyle:
    """The filled-in number or day: 13 pt, on the line the printed text sits on."""
    return TextBoxStyle(
        font=_KeptFont(str(for_pdf_text(face)), font_size=13),
        font_size=13,
        border_width=0,
        box_layout_rule=SimpleBoxLayoutRule(
            x_align=align,
            y_align=AxisAlignment.ALIGN_MIN,
            margins=Margins(left=1, right=0, top=0, bottom=round(height / 2 - 0.3 * 13 - 1.1)),
            inner_content_scaling=InnerScaling.NO_SCALING,
        ),
    )


def _seal_lines(body: str, width: int = 40) -> list[str]:
    """The body's name in lines short enough for the seal's caption."""
    lines: list[str] = []
    for word in body.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def issue(
    data: bytes,
    *,
    number: str,
    day: str,
    signer: signers.Signer,
    seal: Path,
    seal_mm: float,
    body: Sequence[str],
    when: datetime,
    trust: list[Any],
) -> bytes:
    """The văn thư's step: fill the number and the day, then the body's signature on `con_dau`, the seal at its
    real size with the body's name and the signing time."""
    for value, face in ((number, "regular"), (day, "italic")):
        missing = missing_glyph(face, value)
        if missing:
            raise KeyProblem(f"the letter's typeface cannot print {missing!r}")
    writer = IncrementalPdfFileWriter(io.BytesIO(data))
    # the number against "/notation", as a clerk writes it in the blank
    populate_static_text_field(writer, NUMBER, _field_style("regular", AxisAlignment.ALIGN_MAX), number)
    populate_static_text_field(writer, DAY, _field_style("italic", AxisAlignment.ALIGN_MID), day)
    filled = io.BytesIO()
    writer.write(filled)  # type: ignore[no-untyped-call]
    lines = [line for part in body for line in _seal_lines(part.upper())]
    params = {f"line{i}": line for i, line in enumerate(lines)} | {"time": when.isoformat()}
    size = seal_mm * 72 / 25.4
    style = TextStampStyle(
        stamp_text="\n".join(f"%(line{i})s" for i in range(len(lines))) + "\n%(time)s",
        text_box_style=TextBoxStyle(
            font=_KeptFont(str(for_pdf_text("bold")), font_size=5),
            font_size=5,
            text_color=(0.05, 0.05, 0.45),
        ),
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MIN,
            margins=Margins(0, 0, 0, 1),
            inner_content_scaling=InnerScaling.SHRINK_TO_FIT,
        ),
        background=PdfImage(str(seal), box=BoxConstraints(width=size, height=size)),
        background_opacity=1.0,
        background_layout=SimpleBoxLayoutRule(  # the seal at the top, its real size; the caption below it
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MAX,
            margins=Margins(0, 0, 0, 0),
            inner_content_scaling=InnerScaling.NO_SCALING,
        ),
        border_width=0,
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason="Văn thư ký số, phát hành văn bản",
        validation_context=validation_context(trust),
        signer_key_usage={"digital_signature", "non_repudiation"},
    )
    try:
        return _run(_sign_field(filled.getvalue(), signer, meta, style, when, params))
    except SigningError as exc:
        raise _refusal(exc, " ".join(body)) from None
