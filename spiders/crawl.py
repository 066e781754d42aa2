"""Entry point of the crawler process: ``python -m spiders.crawl CONFIG.json``.

Twisted's reactor cannot be restarted inside one process, so every crawl runs in a fresh
subprocess started by ``pipeline.crawl``; the config file names the sources, the output
folder, the settings, the articles already stored and how to poll each feed or sitemap.
``known`` holds ``pipeline.urls.url_key`` keys of the URLs already handled, not URLs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess

from pipeline.records import FeedPoll
from pipeline.sources import load_sources
from spiders.news import NewsSpider
from spiders.settings import crawl_settings


def main(config_path: str) -> int:
    """Run one crawl as the config says; return the process exit code."""
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    sources = load_sources(Path(config["sources_file"]), newsroom=config.get("newsroom"))
    known = frozenset(config.get("known", []))  # url_key()s of URLs already handled
    polls = read_polls(config.get("polls", {}))
    process = CrawlerProcess(crawl_settings(**config["settings"], sources=sources))
    process.crawl(NewsSpider, sources=sources, known=known, polls=polls)
    process.start()
    return 0


def read_polls(raw: dict[str, dict[str, Any]]) -> dict[str, FeedPoll]:
    """FeedPoll records from the config's ``polls`` object, keyed by feed/sitemap URL."""
    return {url: FeedPoll(url=url, **fields) for url, fields in raw.items()}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
