"""One Jinja2 set-up for every page and message framewatch writes (report, pack, e-mail).

HTML is autoescaped, since scraped text is untrusted. Markdown has no autoescaping, so every
value passes ``md_escape`` on output (Jinja2's ``finalize``); values a template marks as
Markup (URLs through ``md_url``, our own SQL through ``md_code``) are left alone. Plain text
(e-mail bodies) is written as is, since no renderer interprets it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from urllib.parse import quote

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from dashboards.i18n import fmt_date, fmt_pct

Format = Literal["html", "md", "text"]
MD_SPECIAL = re.compile(r"([\\`*_\[\]()#|!])")


def md_escape(value: object) -> object:
    """Make scraped text inert in Markdown: no HTML, no links, no line structure.

    Renderers pass inline HTML through and turn [text](url) into links, and a newline can
    start a heading or leave a quote, so HTML characters are escaped as entities, Markdown
    punctuation with a backslash and line breaks become spaces. Values the template marks
    as Markup (URLs, see ``md_url``) are left as they are.
    """
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return MD_SPECIAL.sub(r"\\\1", re.sub(r"\s*\n\s*", " ", text))


def md_url(url: str) -> Markup:
    """A URL for a Markdown autolink <...>: characters that would end it are percent-encoded."""
    return Markup(quote(url, safe=":/?#[]@!$&'()*+,;=%~-._"))


def as_of(value: str, lang: str) -> str:
    """A reference date in the language's format; a period like '2023' stays as is."""
    try:
        return fmt_date(date.fromisoformat(value), lang)
    except ValueError:
        return value


def environment(fmt: Format) -> Environment:
    """The Jinja2 environment for one output format, with the shared filters."""
    env = Environment(
        loader=PackageLoader("dashboards", "templates"),
        autoescape=fmt == "html",
        finalize=md_escape if fmt == "md" else None,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = fmt_pct
    env.filters["day"] = fmt_date
    env.filters["as_of"] = as_of
    env.filters["md_url"] = md_url
    env.filters["md_code"] = Markup  # our own text (SQL), shown verbatim in a code block
    return env
