"""Griffe extension used by the docs build: normalise reStructuredText idioms in docstrings before parsing.

The library writes docstrings in the kornia style (see STYLE.md): a singular ``Example:`` section
holding doctests, and Sphinx roles such as ``:func:`backward_warp``` for cross-references. Griffe's
Google parser only recognises ``Examples:`` as a doctest section (``Example:`` becomes a Markdown
admonition in which ``>>>`` lines turn into block quotes), and Markdown has no Sphinx roles. This
extension rewrites them at load time, so the source keeps its style and the site renders correctly:

- ``Example:`` on its own line becomes ``Examples:``;
- a reStructuredText literal-block marker (a line ending in ``::``, followed by an indented block) loses
  one colon; the indented block already renders as code in Markdown;
- ``:class:`~pkg.mod.Name``` becomes ``` `Name` ```, ``:func:`pkg.f``` becomes ``` `pkg.f` ``` (a code
  span, never a cross-reference, so that a reference to a module that does not exist yet cannot
  fail the strict build).

Loaded from ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^([ \t]*)Example:[ \t]*$", re.MULTILINE)
_LITERAL = re.compile(r"([^:\s])::[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.group(1), match.group(2).strip()
    if tilde:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def normalise(text: str) -> str:
    """Apply the rewrites to one docstring.

    Args:
        text: the raw docstring.

    Returns:
        The rewritten docstring.
    """
    text = _EXAMPLE.sub(r"\1Examples:", text)
    text = _LITERAL.sub(r"\1:", text)
    return _ROLE.sub(_role, text)


class NormaliseDocstrings(griffe.Extension):
    """Rewrite ``Example:`` sections and Sphinx roles in every loaded docstring."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:  # noqa: ARG002
        """Normalise ``obj``'s docstring once the object tree is complete."""
        if obj.docstring is not None:
            obj.docstring.value = normalise(obj.docstring.value)
