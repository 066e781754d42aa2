"""Entry point of the crawler process: ``python -m spiders.crawl CONFIG.json``.

Twisted's reactor cannot be restarted inside one process, so every crawl runs in a fresh
subprocess started by ``pipeline.crawl``; the config file names the sources, the output
folder and the settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from pipeline.sources import load_sources
from spiders.news import NewsSpider
from spiders.settings import crawl_settings


def main(config_path: str) -> int:
    """Run one crawl as the config says; return the process exit code."""
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    sources = load_sources(Path(config["sources_file"]), newsroom=config.get("newsroom"))
    known = frozenset(config.get("known_urls", []))
    process = CrawlerProcess(crawl_settings(**config["settings"]), install_root_handler=True)
    process.crawl(NewsSpider, sources=sources, known=known)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
