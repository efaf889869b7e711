"""The docs site needs no network: formulas become MathML at build time (``docs/_ext/site_hooks.py``), no page
loads a script or stylesheet from elsewhere, and the CLI reference page is generated from the parsers."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

pytest.importorskip("latex2mathml")  # a docs extra

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs" / "_ext" / "site_hooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _page(toc=()):
    return SimpleNamespace(file=SimpleNamespace(src_uri="x.md"), toc=list(toc))


def _toc(title, children=()):
    return SimpleNamespace(title=title, children=list(children))


def test_config_loads_nothing_remote():
    cfg = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    for key in ("extra_javascript", "extra_css"):
        for entry in cfg.get(key) or []:
            assert not re.match(r"(https?:)?//", str(entry)), f"{key}: {entry} needs the network"
    assert "docs/_ext/site_hooks.py" in cfg["hooks"]
    assert cfg["theme"].get("font") is False  # no web-font request


def test_formulas_become_mathml(hooks):
    html = ('<p>see <span class="arithmatex">\\(LR_{t\\pm1}\\)</span> and</p>\n'
            '<div class="arithmatex">\\[\\text{out}(p) = a &lt; b\\]</div>')
    out = hooks.on_page_content(html, _page(), None, None)
    assert "\\(" not in out and "\\[" not in out
    assert out.count("<math ") == 2
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in out
    assert 'display="block"' in out and "<mtext>out</mtext>" in out
    assert "<mo>&#x0003C;</mo>" in out  # the entity-escaped "<" of the HTML was unescaped before converting


def test_toc_entries_have_no_tex(hooks):
    child = _toc("A9 — \\(s = scale/2\\)")
    page = _page([_toc("Details", [_toc("A4 — Iteration 1 has no \\(SR_t\\)"), child])])
    hooks.on_page_content("", page, None, None)
    titles = [page.toc[0].title, *(c.title for c in page.toc[0].children)]
    assert titles[0] == "Details"
    for title in titles[1:]:
        assert "\\(" not in title and "<math " in title
    assert titles[1].startswith("A4 — Iteration 1 has no <math ")


def test_bad_formula_fails_the_build_naming_the_page(hooks, monkeypatch):
    def boom(tex, display):
        raise RuntimeError("unsupported")

    monkeypatch.setattr(hooks, "convert", boom)
    with pytest.raises(ValueError, match=r"^x\.md: cannot convert the formula '\\\\frac' to MathML"):
        hooks.on_page_content('<span class="arithmatex">\\(\\frac\\)</span>', _page(), None, None)


def test_cli_reference_inserted(hooks):
    md = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    out = hooks.on_page_markdown(md, _page(), None, None)
    assert hooks.CLI_MARKER not in out
    assert "## `stvsr upscale`" in out and "--crf CRF" in out
