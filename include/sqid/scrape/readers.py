"""The questions :mod:`sqid.scrape.pages` asks of a page (:class:`Reader`), and the
reference reader that answers them with XPath over a full lxml parse.

The fast reader, :class:`~sqid.scrape.scan_reader.ScanReader`, answers the same
questions from the raw bytes; the tests hold it to :class:`TreeReader`, so a change to
one question's answer here shows what the other reader needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

Attrs = dict[str, str]


class Reader(Protocol):
    """The questions the decision asks of a page; both readers answer them alike."""

    def tag(self, name: str, attr: str, value: str, *, exact: bool) -> Attrs | None:
        """Attributes of the first ``<name>`` whose ``attr`` equals (or contains) ``value``."""

    def img_within(self, container_id: str) -> Attrs | None:
        """Attributes of the first ``img`` inside the element with id ``container_id``."""

    def scripts_with(self, text: str) -> Iterator[str]:
        """The text of each ``script`` that contains ``text``, in document order."""

    def title(self) -> str:
        """The text of the page's ``title``, or ''."""

    def mentions(self, text: str) -> bool:
        """Whether the page's bytes contain ``text`` anywhere."""


def _attributes(element) -> Attrs:
    """An element's attributes; ``items()`` reads names such as ``{`` that ``attrib``
    would take for lxml's ``{namespace}`` syntax and refuse."""
    attrs: Attrs = {}
    for name, value in element.items():
        attrs.setdefault(name, value)
    return attrs


class TreeReader:
    """Answers with XPath over the whole page parsed by lxml (libxml2's HTML5 tokenizer).

    libxml2 stops building the tree below 2,048 levels of nesting; the scan reader has no
    such limit, so only on pages nested deeper than that can the two differ.
    """

    def __init__(self, page: bytes) -> None:
        import lxml.etree
        import lxml.html

        self.page = page
        parser = lxml.html.HTMLParser(encoding="utf-8", huge_tree=True)
        try:
            self.root = lxml.html.document_fromstring(page, parser=parser)
        except (lxml.etree.ParserError, ValueError):
            self.root = None  # an empty or unparseable document has no elements

    def _first(self, query: str, **variables: str):
        if self.root is None:
            return None
        found = self.root.xpath(query, **variables)
        return found[0] if found else None

    def tag(self, name: str, attr: str, value: str, *, exact: bool) -> Attrs | None:
        test = f"@{attr}=$v" if exact else f"contains(@{attr}, $v)"
        element = self._first(f"(//{name}[{test}])[1]", v=value)
        return _attributes(element) if element is not None else None

    def img_within(self, container_id: str) -> Attrs | None:
        container = self._first("(//*[@id=$v])[1]", v=container_id)
        images = container.xpath(".//img") if container is not None else []
        return _attributes(images[0]) if images else None

    def scripts_with(self, text: str) -> Iterator[str]:
        if self.root is None:
            return
        for script in self.root.xpath("//script[contains(., $v)]", v=text):
            yield script.text or ""

    def title(self) -> str:
        element = self._first("(//title)[1]")
        return element.text_content() if element is not None else ""

    def mentions(self, text: str) -> bool:
        return text.encode() in self.page
