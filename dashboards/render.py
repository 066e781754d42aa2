"""One Jinja2 set-up for every page and message framewatch writes (report, pack, e-mail).

HTML is autoescaped, since scraped text is untrusted. Markdown has no autoescaping, so every
value passes ``md_escape`` on output (Jinja2's ``finalize``); values a template marks as
Markup (URLs through ``md_url``, our own SQL through ``md_code``) are left alone. Plain text
(e-mail bodies) is written as is, since no renderer interprets it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined
from markupsafe import Markup

from dashboards.i18n import fmt_date, fmt_pct
from pipeline.urls import is_web_url

Format = Literal["html", "md", "text"]
MD_SPECIAL = re.compile(r"([\\`*_\[\]()#|!])")
MISSING = "–"  # what a figure that cannot be computed (no articles) prints as
# The templates of a page and its Markdown twin: "<name>.html" and "<name>.md.j2".
TWIN_SUFFIXES: dict[Format, str] = {"html": ".html", "md": ".md.j2"}


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


def md_link(url: str | None) -> str:
    """A Markdown autolink <url> when the URL may be a link (``web_url``); otherwise the bare
    text, which ``md_escape`` then makes inert. A filter rather than a macro, since a macro's
    output would pass ``md_escape`` again and lose its angle brackets."""
    return Markup(f"<{md_url(url)}>") if url and is_web_url(url) else (url or "")


def as_of(value: str, lang: str) -> str:
    """A reference date in the language's format; a period like '2023' stays as is."""
    try:
        return fmt_date(date.fromisoformat(value), lang)
    except ValueError:
        return value


def pct(value: float | None, lang: str) -> str:
    """A share in the language's format; MISSING when there is none (no articles)."""
    return MISSING if value is None else fmt_pct(value, lang)


def day(value: date | datetime | None, lang: str) -> str:
    """A date in the language's format; MISSING when there is none."""
    return MISSING if value is None else fmt_date(value, lang)


def web_url(url: str | None) -> str | None:
    """The URL when it may be a link (http(s), see ``is_web_url``), else None: a template
    then prints the text without a link, so a scraped ``javascript:`` URL never reaches an
    href or a Markdown link."""
    return url if url and is_web_url(url) else None


def environment(fmt: Format, folder: str | None = None, strict: bool = False) -> Environment:
    """The Jinja2 environment for one output format, with the shared filters.

    ``folder`` is a subfolder of dashboards/templates used as the loader root (the dashboard
    keeps its pages in "app"); ``strict`` makes an undefined variable an error instead of
    an empty string, for pages whose context is built by code that tests cover.
    """
    env = Environment(
        loader=PackageLoader("dashboards", f"templates/{folder}" if folder else "templates"),
        autoescape=fmt == "html",
        finalize=md_escape if fmt == "md" else None,
        undefined=StrictUndefined if strict else Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = pct
    env.filters["day"] = day
    env.filters["web_url"] = web_url
    env.filters["as_of"] = as_of
    env.filters["md_url"] = md_url
    env.filters["md_link"] = md_link
    env.filters["md_code"] = Markup  # our own text (SQL), shown verbatim in a code block
    return env


def render_twin(name: str, fmt: Literal["html", "md"], **context: object) -> str:
    """Render the HTML page ``<name>.html`` or its Markdown twin ``<name>.md.j2``."""
    return environment(fmt).get_template(name + TWIN_SUFFIXES[fmt]).render(**context)


def write_twins(name: str, out: Path, **context: object) -> list[Path]:
    """Write the HTML page to ``out`` and its Markdown twin beside it (.md); return both."""
    out.parent.mkdir(parents=True, exist_ok=True)
    md = out.with_suffix(".md")
    out.write_text(render_twin(name, "html", **context), encoding="utf-8")
    md.write_text(render_twin(name, "md", **context), encoding="utf-8")
    return [out, md]
