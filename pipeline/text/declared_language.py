"""The language a document's source declares for it: its metadata, else a locale folder in its URL or path.

Documentation trees put translations in locale folders (``/usr/share/doc/installation-guide/ru/``,
``Documentation/translations/zh_CN/``, ``help/de/``) and rarely mark pages with ``lang``. A folder
counts when it is an ISO 639-1 code, optionally with a region or script (``en``, ``pt-BR``, ``zh_CN``,
``sr@latin``); codes that are more often folder names in code trees (``io``, ``ml``, ``os``...) are left
out. Only folders count, never the file name, and the deepest locale folder wins.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# ISO 639-1 (the alpha-2 codes in Debian iso-codes' iso_639-2.json), less codes that name folders in code
# trees more often than languages
_ISO_639_1 = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el en "
    "eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv "
    "ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne "
    "ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st "
    "su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu "
)
ISO_639_1 = frozenset(_ISO_639_1.split()) - {"io", "ml", "os", "ps", "ms", "sh", "ts"}
_TAG = re.compile(r"^([a-z]{2})(?:[-_](?:[a-z]{2}|[a-z]{4}|\d{3}))?(?:@[a-z]+)?$", re.IGNORECASE)
_SEGMENTS = re.compile(r"[/#\\]")


def primary(tag: str) -> str:
    """``pt-BR`` → ``pt``; ``zh_CN`` → ``zh``."""
    return re.split(r"[-_@.]", tag.strip().lower(), maxsplit=1)[0]


def _tag(text: str) -> str | None:
    m = _TAG.match(text.strip())
    return m.group(1).lower() if m and m.group(1).lower() in ISO_639_1 else None


def path_language(path: str) -> str | None:
    """The deepest locale folder of a path (the file name itself never counts)."""
    return next((found for part in reversed(_SEGMENTS.split(path)[:-1]) if (found := _tag(part))), None)


def declared_language(ident: str, meta: dict) -> str | None:
    """``meta.language`` when it is a language tag (code's ``Python`` is not), else a locale folder of ``meta.url``,
    else of the id."""
    language = meta.get("language")
    if isinstance(language, str) and (found := _tag(language)):
        return found
    url = meta.get("url")
    if isinstance(url, str):
        try:
            found = path_language(urlsplit(url).path)
        except ValueError:
            found = None
        if found:
            return found
    return path_language(ident)
