"""MkDocs hooks (``hooks:`` in ``mkdocs.yml``).

- **Formulas at build time**: ``pymdownx.arithmatex`` (generic mode) marks ``$...$`` / ``$$...$$`` as
  ``<span class="arithmatex">\\(...\\)</span>`` / ``<div class="arithmatex">\\[...\\]</div>``; this hook replaces
  the TeX with MathML (``latex2mathml``), which browsers render natively: no script, no network. Headings'
  table-of-contents entries get the same MathML instead of their TeX source. A formula that cannot be
  converted fails the build, naming the page.
- **Command-line reference**: the ``<!-- stvsr-cli-reference -->`` marker in ``docs/reference/cli.md`` is
  replaced by the help of every ``stvsr`` subcommand, generated from the argument parsers
  (:func:`stvsr_blocks.cli.cli_reference_markdown`), so the page cannot drift from ``--help``.
"""

from __future__ import annotations

import html
import re
from typing import Any

from latex2mathml.converter import convert

CLI_MARKER = "<!-- stvsr-cli-reference -->"
_BLOCK = re.compile(r'<div class="arithmatex">\s*\\\[(.*?)\\\]\s*</div>', re.DOTALL)
_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.DOTALL)
_TEX = re.compile(r"\\\((.*?)\\\)", re.DOTALL)


def tex_to_mathml(tex: str, display: str, where: str) -> str:
    """MathML of one formula (``tex`` as it appears in the HTML, i.e. entity-escaped)."""
    source = html.unescape(tex).strip()
    try:
        return convert(source, display=display)
    except Exception as exc:  # noqa: BLE001 - report which formula on which page
        raise ValueError(f"{where}: cannot convert the formula {source!r} to MathML: {exc}") from exc


def _walk(items: Any):
    for item in items:
        yield item
        yield from _walk(item.children)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Insert the generated command-line reference."""
    if CLI_MARKER in markdown:
        from stvsr_blocks.cli import cli_reference_markdown

        markdown = markdown.replace(CLI_MARKER, cli_reference_markdown())
    return markdown


def on_page_content(html_text: str, page: Any, config: Any, files: Any) -> str:
    """Replace the TeX of formulas (page body and table of contents) by MathML."""
    where = page.file.src_uri
    html_text = _BLOCK.sub(lambda m: f'<div class="arithmatex">{tex_to_mathml(m[1], "block", where)}</div>',
                           html_text)
    html_text = _INLINE.sub(lambda m: f'<span class="arithmatex">{tex_to_mathml(m[1], "inline", where)}</span>',
                            html_text)
    for item in _walk(page.toc):
        item.title = _TEX.sub(lambda m: tex_to_mathml(m[1], "inline", where), item.title)
    return html_text
