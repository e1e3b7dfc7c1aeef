"""The letter as it prints, inside a desk page: the printed page's own markup and stylesheet
(templates/letter.html.j2, through letters.render), its rules scoped to the sheet so that they touch nothing
else on the page. The desk's letter page and the confirmation before signing show it; Ctrl+P prints it alone
(its @page rules are kept: A4 and the decree's margins)."""

from __future__ import annotations

import re
from functools import lru_cache

from markupsafe import Markup

from letters.content import Letter
from letters.render import render_html

SCOPE = ".sheet"
# Before the letter's rules: the desk's own table and cell styles do not reach into the letter.
RESET = (
    ".sheet table, .sheet td, .sheet th { border: 0; padding: 0; background: none; text-align: inherit; width: auto; }"
)
# After them: on a phone the page is the screen's width, its margins and type smaller; print is untouched.
PHONE = """@media screen and (max-width: 40rem) {
  .sheet { font-size: 11pt; overflow-x: auto; }
  .sheet .page { width: auto; min-height: 0; margin: 0; padding: 6mm 4mm; }
  .sheet td.issuer, .sheet td.motto, .sheet .body h2 { font-size: 10.5pt; }
  .sheet .recipients { margin: 4mm 0 3mm 3mm; }
  .sheet .body p, .sheet .body h2 { text-indent: 5mm; }
  .sheet .signer-name { margin-top: 12mm; }
}"""
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)
_PAGE = re.compile(r'(<div class="page">.*</div>)\s*</body>', re.DOTALL)


def sheet(letter: Letter) -> Markup:
    """The letter's page and its scoped stylesheet, ready to place in a page (autoescaped already)."""
    html = render_html(letter)
    style, page = _STYLE.search(html), _PAGE.search(html)
    assert style is not None and page is not None, "templates/letter.html.j2 has a <style> and a .page"
    css = "\n".join((RESET, scope_css(style.group(1), SCOPE), PHONE))
    return Markup(f'<style>{css}</style>\n<div class="sheet">{page.group(1)}</div>')  # rendered and escaped


@lru_cache(maxsize=8)
def scope_css(css: str, scope: str) -> str:
    """Every rule of the stylesheet applied under `scope` only; `html` and `body` become the scope itself;
    @media blocks are scoped inside; other at-rules (@page) are kept as they are. Remembered: every letter
    has the same stylesheet, and scoping it character by character cost a letter page a tenth of its time."""
    out: list[str] = []
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    at = 0
    while True:
        opening = css.find("{", at)
        if opening < 0:
            break
        prelude = css[at:opening].strip()
        depth, end = 0, opening
        for end in range(opening, len(css)):
            if css[end] == "{":
                depth += 1
            elif css[end] == "}":
                depth -= 1
                if depth == 0:
                    break
        body = css[opening + 1 : end]
        if prelude.startswith("@media"):
            out.append(f"{prelude} {{ {scope_css(body, scope)} }}")
        elif prelude.startswith("@"):
            out.append(f"{prelude} {{{body}}}")
        else:
            selectors = ", ".join(_scoped(s.strip(), scope) for s in prelude.split(","))
            out.append(f"{selectors} {{{body}}}")
        at = end + 1
    return "\n".join(out)


def _scoped(selector: str, scope: str) -> str:
    head, _, rest = selector.partition(" ")
    if head in ("html", "body"):
        return f"{scope} {rest}".strip() if rest else scope
    return f"{scope} {selector}"
