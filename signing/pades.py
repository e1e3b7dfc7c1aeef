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
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine, FontEngineFactory
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator
from pyhanko.pdf_utils.form_tools import populate_static_text_field
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import AxisAlignment, BoxConstraints, InnerScaling, Margins, SimpleBoxLayoutRule
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import signers
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.stamp import StaticStampStyle, TextStampStyle
from pyhanko_certvalidator import ValidationContext

from letters.fonts import VIETNAMESE, for_pdf_text, missing_glyph
from letters.pdf import DAY, NUMBER, SEAL, SIGNATURE
from signing.keys import KeyProblem


class _Face:
    """A face pyHanko draws text in (the number, the day, the seal's caption), read once per process and only
    read afterwards (its tables are loaded here, so threads may share it). The font program a letter embeds is
    cut once per repertoire and kept: pyHanko's own engine parses the font and cuts it again at every text box,
    about 16 ms each, three per letter."""

    def __init__(self, path: Path) -> None:
        import uharfbuzz as hb  # type: ignore[import-untyped]
        from fontTools.ttLib import TTFont

        data = path.read_bytes()
        self.path = path
        self.hb_face = hb.Face(data)
        self.tt = TTFont(io.BytesIO(data))
        for tag in ("head", "hhea", "maxp", "OS/2", "post", "name", "cmap", "hmtx", "loca", "glyf"):
            self.tt[tag]  # loaded now: later readers only read
        self.ps_name = str(self.tt["name"].getDebugName(6))
        self.units_per_em = int(self.tt["head"].unitsPerEm)
        self.glyph_set = self.tt.getGlyphSet(preferCFF=True)
        self.reverse_cmap = self.tt["cmap"].buildReversed()
        self._data = data
        self._cmap = self.tt.getBestCmap()
        self._programs: dict[frozenset[int], tuple[bytes, int]] = {}
        self._lock = threading.Lock()

    def glyphs(self, text: str) -> frozenset[int]:
        """The glyph ids that draw text's characters one by one (.notdef included, as every cut keeps it)."""
        return frozenset({0} | {self.tt.getGlyphID(self._cmap[ord(ch)]) for ch in text if ord(ch) in self._cmap})

    def program(self, used: frozenset[int], repertoire: frozenset[int]) -> tuple[bytes, int]:
        """The font program to embed (Flate-compressed, and its length before): the face cut to repertoire when
        the text drawn stays within it, else to the glyphs drawn; glyph ids kept, as pyHanko's content
        streams use them as CIDs."""
        key = repertoire if used <= repertoire else used
        with self._lock:
            found = self._programs.get(key)
            if found is None:
                if len(self._programs) >= 64:  # texts beyond the repertoire are rare: keep a few
                    self._programs.pop(next(iter(self._programs)))
                found = self._programs[key] = self._cut(key)
        return found

    def _cut(self, glyphs: frozenset[int]) -> tuple[bytes, int]:
        import zlib

        from fontTools import subset
        from fontTools.ttLib import TTFont

        options = subset.Options(layout_closure=False, retain_gids=True)  # as pyHanko cuts a TrueType face
        options.drop_tables += ["GPOS", "GDEF", "GSUB"]
        font = TTFont(io.BytesIO(self._data))
        cutter = subset.Subsetter(options=options)
        cutter.populate(gids=sorted(glyphs))
        cutter.subset(font)
        out = io.BytesIO()
        font.save(out)
        return zlib.compress(out.getvalue()), len(out.getvalue())


@lru_cache(maxsize=8)
def _face(path: Path) -> _Face:
    return _Face(path)


class _KeptProgram(CIDFontType2):
    """pyHanko's CID font dictionary, its font file the face's kept program instead of a fresh cut."""

    program: tuple[bytes, int] = (b"", 0)

    def set_font_file(self, writer: Any) -> Any:
        encoded, length = self.program
        stream = generic.StreamObject(
            {
                generic.NameObject("/Filter"): generic.NameObject("/FlateDecode"),
                generic.NameObject("/Length1"): generic.NumberObject(length),  # type: ignore[no-untyped-call]
            },
            encoded_data=encoded,
        )
        ref = writer.add_object(stream)
        self._font_descriptor[generic.NameObject("/FontFile2")] = ref
        return ref


class _KeptGlyphs(GlyphAccumulator):
    """pyHanko's glyph accumulator (HarfBuzz shaping, widths, ToUnicode) over a shared face: nothing parsed
    and nothing cut per text box. Its attributes are those GlyphAccumulator.__init__ sets (pyHanko 0.38,
    pinned), from the face instead of a fresh parse."""

    def __init__(self, writer: Any, face: _Face, font_size: int, obj_stream: Any, repertoire: frozenset[int]) -> None:
        import uharfbuzz as hb

        FontEngine.__init__(self, writer, face.ps_name, True, obj_stream=obj_stream, font_size=font_size)
        self.face, self.repertoire = face, repertoire
        self.hb_font = hb.Font(face.hb_face)
        self.tt = face.tt
        self._font_ref = writer.allocate_placeholder()
        self.cff_charset = None
        self.use_raw_gids = True
        self.cidfont_obj = _KeptProgram(face.tt, face.ps_name, self.subset_prefix)
        self.features = None
        self.units_per_em = face.units_per_em
        self._glyphs: dict[int, tuple[int, int]] = {}
        self._glyph_set = face.glyph_set
        self._cid_to_unicode: dict[int, str] = {}
        self._GlyphAccumulator__reverse_cmap = face.reverse_cmap
        self.ot_language_tag = self.ot_script_tag = self.writing_direction = self.bcp47_lang_code = None
        self._subset_created = True  # never cut here: prepare_write takes the face's kept program
        self._write_prepared = False

    def prepare_write(self) -> None:
        if not self._write_prepared:
            assert isinstance(self.cidfont_obj, _KeptProgram)
            self.cidfont_obj.program = self.face.program(frozenset(self._glyphs), self.repertoire)
        super().prepare_write()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class _KeptFont(FontEngineFactory):
    """A face of the letter's typeface for pyHanko's text boxes, with the characters it is expected to draw
    (a font program with all of them is cut once per process and embedded in every letter)."""

    style: str
    size: int
    expected: str

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> FontEngine:
        face = _face(for_pdf_text(self.style))
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return _KeptGlyphs(writer, face, self.size, obj_stream, _repertoire(face, self.expected))


@lru_cache(maxsize=16)
def _repertoire(face: _Face, expected: str) -> frozenset[int]:
    return face.glyphs(expected)


class _KeptImage(PdfImage):
    """A signature or seal image whose XObjects (the colours, the alpha as its soft mask) are encoded once per
    file and copied into each letter: pyHanko decodes the PNG and compresses it again for every signature."""

    def __init__(self, path: Path, box: BoxConstraints | None = None) -> None:
        streams = _image_streams(path, path.stat().st_mtime)
        super().__init__(streams[0], box=box)
        self._streams = streams[1:]

    @property
    def image_ref(self) -> generic.IndirectObject:
        writer = self.writer
        assert writer is not None
        ref = self._image_ref
        if ref is None or ref.get_pdf_handler() is not writer:  # type: ignore[no-untyped-call]
            mask: generic.IndirectObject | None = None
            for entries, encoded in self._streams:  # the soft mask first, as pyHanko writes them
                stream = generic.StreamObject(dict(entries), encoded_data=encoded)
                if mask is not None:
                    stream[generic.NameObject("/SMask")] = mask
                mask = writer.add_object(stream)
            self._image_ref = ref = mask
        assert ref is not None
        return ref


@lru_cache(maxsize=64)
def _image_streams(path: Path, _mtime: float) -> tuple[Any, ...]:
    """(the image, then each XObject as pyHanko encodes it: its entries but /SMask, its encoded bytes)."""
    from PIL import Image
    from pyhanko.pdf_utils.images import pil_image
    from pyhanko.pdf_utils.writer import PdfFileWriter

    with Image.open(path) as opened:
        image = opened.copy()
    scratch = PdfFileWriter()  # type: ignore[no-untyped-call]
    chain, stream = [], pil_image(image, scratch).get_object()
    while True:
        chain.append(({k: v for k, v in stream.items() if k != "/SMask"}, stream.encoded_data))
        if "/SMask" not in stream:
            break
        stream = stream["/SMask"].get_object()
    return (image, *reversed(chain))


DIGITS = "0123456789"
# The seal's caption: the body's name in capitals, the signing time in ISO 8601.
CAPTION = "".join(sorted({ch for ch in map(chr, VIETNAMESE) if ch.isupper()} | set(DIGITS + " -:+T.,()/&'")))


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


class _Fixed(CMSAttributeProvider):
    """A signed attribute whose value is known before signing."""

    def __init__(self, attribute_type: str, value: Any) -> None:
        self.attribute_type, self.value = attribute_type, value

    async def build_attr_value(self, dry_run: bool = False) -> Any:
        return self.value


class _PadesAttributes(SignedAttributeProviderSpec):
    """The signed attributes pyHanko gives a PAdES signature made without CAdES extras, as chidao's are: the
    signing-certificate-v2 alone (the signing time goes in /M, as PAdES wants; pyHanko adds the content type
    and the digest). Its value is the same DER, read once per certificate: built afresh, asn1crypto takes
    3–10 ms to encode it, twice per signature."""

    def __init__(self, certificate: bytes) -> None:
        self.value = _signing_certificate(certificate)

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> Iterator[CMSAttributeProvider]:
        yield _Fixed("signing_certificate_v2", self.value)


@lru_cache(maxsize=4096)
def _signing_certificate(der: bytes) -> Any:
    from asn1crypto import tsp, x509  # type: ignore[import-untyped]
    from pyhanko.sign.general import as_signing_certificate_v2

    built = as_signing_certificate_v2(x509.Certificate.load(der))
    return tsp.SigningCertificateV2.load(built.dump())


def _for_pades(signer: signers.Signer) -> signers.Signer:
    """The signer with the kept signed attributes (a signer is only ever used here, for PAdES signatures)."""
    if signer.signed_attr_prov_spec is None and signer.signing_cert is not None:
        signer.signed_attr_prov_spec = _PadesAttributes(signer.signing_cert.dump())
    return signer


def validation_context(trust: list[Any]) -> ValidationContext:
    """Offline, against the configured CAs only (no network: loopback is all chidao reaches)."""
    return ValidationContext(trust_roots=trust, allow_fetching=False, revocation_mode="soft-fail")


def reserved(signer: signers.Signer) -> int:
    """Hex digits to keep for the CMS container, from what it will hold rather than a dry-run signature: the
    certificates it embeds (the signer's and every other in its registry), the largest signature its key
    makes, the issuer's name twice (signer identifier, signing-certificate-v2) and 1 KB for the rest (about
    500 bytes with chidao's attributes). pyHanko refuses to sign if the container would not fit, so a short
    estimate refuses a signature, never spoils one; every hex digit kept is also parsed again by each reader."""
    cert = signer.signing_cert
    assert cert is not None, "pyHanko's signers load their certificate first"
    others = [c for c in (signer.cert_registry or ()) if c.dump() != cert.dump()]
    key_bytes = (cert.public_key.bit_size + 7) // 8
    signature = key_bytes if cert.public_key.algorithm == "rsa" else 2 * key_bytes + 9
    size = len(cert.dump()) + sum(len(c.dump()) for c in others) + signature + 2 * len(cert.issuer.dump()) + 1024
    return int(2 * (-(-size // 256) * 256))


async def _sign_field(
    data: bytes | IncrementalPdfFileWriter,
    signer: signers.Signer,
    meta: signers.PdfSignatureMetadata,
    style: Any,
    when: datetime,
    text: dict[str, str] | None = None,
) -> bytes:
    writer = data if isinstance(data, IncrementalPdfFileWriter) else IncrementalPdfFileWriter(io.BytesIO(data))
    session = signers.PdfSigner(meta, signer=_for_pades(signer), stamp_style=style).init_signing_session(
        writer, existing_fields_only=True
    )
    session.system_time = when
    validated = await session.perform_presign_validation(writer)
    document = session.prepare_tbs_document(
        validation_info=validated, bytes_reserved=reserved(signer), appearance_text_params=text
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
        background=_KeptImage(image),
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
        font=_KeptFont(face, 13, DIGITS),
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
    lines = [line for part in body for line in _seal_lines(part.upper())]
    params = {f"line{i}": line for i, line in enumerate(lines)} | {"time": when.isoformat()}
    size = seal_mm * 72 / 25.4
    style = TextStampStyle(
        stamp_text="\n".join(f"%(line{i})s" for i in range(len(lines))) + "\n%(time)s",
        text_box_style=TextBoxStyle(
            font=_KeptFont("bold", 5, CAPTION),
            font_size=5,
            text_color=(0.05, 0.05, 0.45),
        ),
        inner_content_layout=SimpleBoxLayoutRule(
            x_align=AxisAlignment.ALIGN_MID,
            y_align=AxisAlignment.ALIGN_MIN,
            margins=Margins(0, 0, 0, 1),
            inner_content_scaling=InnerScaling.SHRINK_TO_FIT,
        ),
        background=_KeptImage(seal, box=BoxConstraints(width=size, height=size)),
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
        return _run(_sign_field(writer, signer, meta, style, when, params))
    except SigningError as exc:
        raise _refusal(exc, " ".join(body)) from None
