"""Text hygiene shared by records and renderers."""

from __future__ import annotations

import re

__all__ = ["strip_xml_illegal"]

# Characters XML 1.0 forbids: C0 controls other than TAB/LF/CR, lone surrogates
# (JSON may escape them) and the non-characters U+FFFE/U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def strip_xml_illegal(text: str) -> str:
    """Remove characters that cannot appear in an XML 1.0 document."""
    return _XML_ILLEGAL.sub("", text)
