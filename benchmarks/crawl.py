"""Crawl throughput: the real crawl + extraction + store against a bare download-only spider.

A server process serves N generated article pages (40-60 KB of realistic markup: navigation
menus, inline CSS and scripts, JSON-LD, cookie banner, related-article lists, comments,
footer; the body paragraphs are the demo newsroom's real-language text) for K outlets, each
on its own loopback address (127.0.0.2, 127.0.0.3, ...: scrapy keys its per-domain slots by
host, so K outlets crawl in parallel as K real outlets would). Two runs against it, in this
order, in the same process tree:

1. ``bare``: a scrapy spider with framewatch's own settings (robots.txt, AutoThrottle,
   per-domain concurrency, retries, size limits) that reads the same feeds and only
   downloads the articles. The upper bound for any crawler with this politeness.
2. ``framewatch``: ``pipeline.ingest.collect`` as ``framewatch run`` calls it (crawl in its
   subprocess, extraction in a process pool fed while the crawl runs, one store
   transaction with articles, raw HTML, fetch log, feed state and story clusters) into a
   new DuckDB file. Classification is not part of this benchmark.

Figures: articles/s (stored articles / wall time of the step), CPU seconds of all processes
(user + system, the server's excluded) and the peak RSS of the largest process. Usage:

    .venv/bin/python benchmarks/crawl.py --pages 2000 --outlets 8
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import Settings

REPO = Path(__file__).resolve().parents[1]
DEMO_ARTICLES = REPO / "pipeline" / "demo" / "articles"
LANGS = {
    "oberhausen-kurier": "de",
    "brescia-sera": "it",
    "lisboa-tejo": "pt",
    "gdansk-glos": "pl",
    "sisak-kupa": "hr",
    "valencia-turia": "es",
    "grenoble-hebdo": "fr",
    "dublin-ledger": "en",
}


def paragraphs_by_lang() -> dict[str, list[str]]:
    """Body paragraphs of the demo newsroom's articles, per language."""
    out: dict[str, list[str]] = {}
    for outlet, lang in LANGS.items():
        data = yaml.safe_load((DEMO_ARTICLES / f"{outlet}.yaml").read_text(encoding="utf-8"))
        out[lang] = [p for a in data["articles"] for p in a["body"]]
    return out


def _menu(rng: random.Random, words: list[str], n: int, cls: str) -> str:
    """A navigation list of ``n`` links, as CMS menus render them."""
    items = "".join(
        f'<li class="{cls}-item"><a href="/section/{rng.randrange(10_000)}" '
        f'data-track="nav-{i}">{rng.choice(words).title()}</a></li>'
        for i in range(n)
    )
    return f'<ul class="{cls}">{items}</ul>'


def _inline_assets(rng: random.Random) -> str:
    """Inline CSS and a tracking/config script: most of a real news page's weight."""
    css = "".join(
        f".c{i}{{margin:{rng.randrange(20)}px;color:#{rng.randrange(16**6):06x};"
        f"font:{rng.randrange(10, 30)}px/1.4 sans-serif}}"
        for i in range(220)
    )
    config = json.dumps(
        {f"slot{i}": {"id": rng.randrange(10**9), "sizes": [300, 250]} for i in range(160)}
    )
    return f"<style>{css}</style><script>window.__CONFIG__={config};</script>"


def _words(rng: random.Random, words: list[str], n: int) -> str:
    """``n`` random words of the language."""
    return " ".join(rng.sample(words, n))


def make_page(i: int, lang: str, paras: list[str], rng: random.Random, day: datetime) -> bytes:
    """One article page of roughly 40-60 KB."""
    body = rng.sample(paras, k=min(len(paras), rng.randrange(6, 12)))
    words = " ".join(paras[:5]).split()
    title = " ".join(rng.sample(words, 8)).strip(".,«»\"'").capitalize() + f" ({i})"
    published = (day - timedelta(hours=i % 72)).isoformat()
    ld = json.dumps({"@type": "NewsArticle", "headline": title, "datePublished": published})
    related = "".join(
        f'<li><a href="/news/{rng.randrange(10**6)}.html">{_words(rng, words, 7)}</a></li>'
        for _ in range(25)
    )
    comments = "".join(
        f'<div class="comment"><b>user{rng.randrange(999)}</b><p>{_words(rng, words, 15)}</p></div>'
        for _ in range(8)
    )
    html = (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta property="og:title" content="{title}">'
        f'<meta property="article:published_time" content="{published}">'
        f'<script type="application/ld+json">{ld}</script>{_inline_assets(rng)}</head><body>'
        f'<div id="cookie">Cookies: {" ".join(rng.sample(words, 30))} <button>OK</button></div>'
        f"<header><nav>{_menu(rng, words, 90, 'nav')}</nav></header><main><article>"
        f"<h1>{title}</h1><p class='byline'>Redaktion · <time datetime='{published}'>"
        f"{published[:10]}</time></p>"
        + "".join(f"<p>{p}</p>" for p in body)
        + f"</article><aside><h2>Related</h2><ul>{related}</ul></aside>"
        f'<section class="comments">{comments}</section></main>'
        f"<footer>{_menu(rng, words, 120, 'foot')}<p>© Generated outlet</p></footer>"
        "</body></html>"
    )
    return html.encode("utf-8")


def rss(base: str, paths: list[str]) -> bytes:
    """An RSS 2.0 feed listing the outlet's articles."""
    items = "".join(f"<item><title>{p}</title><link>{base}{p}</link></item>" for p in paths)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>b</title>'
        f"<link>{base}/</link><description>b</description>{items}</channel></rss>"
    ).encode()


def site(n_pages: int, outlets: int, port: int) -> dict[str, dict[str, bytes]]:
    """Every outlet's routes: host -> path -> body."""
    rng, day = random.Random(7), datetime(2026, 11, 20, 12, tzinfo=UTC)
    paras = paragraphs_by_lang()
    langs = list(paras)
    hosts: dict[str, dict[str, bytes]] = {}
    for k in range(outlets):
        host, lang = host_names(outlets)[k], langs[k % len(langs)]
        paths = [f"/news/{k}-{i}.html" for i in range(k, n_pages, outlets)]
        routes = {
            p: make_page(i, lang, paras[lang], rng, day)
            for i, p in zip(range(k, n_pages, outlets), paths, strict=True)
        }
        routes["/feed.xml"] = rss(f"http://{host}:{port}", paths)
        routes["/robots.txt"] = b"User-agent: *\nAllow: /\n"
        hosts[host] = routes
    return hosts


def host_names(outlets: int) -> list[str]:
    """The loopback address of each outlet."""
    return [f"127.0.0.{k + 2}" for k in range(outlets)]


def serve(n_pages: int, outlets: int, port: int, sizes: Any) -> None:
    """Generate the pages and serve every outlet on its own loopback address (a child
    process: generated here so that 80 MB of pages are not pickled across)."""
    hosts = site(n_pages, outlets, port)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = hosts[self.server.server_address[0]].get(self.path)  # type: ignore[index]
            ctype = (
                "application/rss+xml" if self.path.endswith(".xml") else "text/html; charset=utf-8"
            )
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", ctype if body is not None else "text/plain")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    servers = []
    for host in hosts:
        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        servers.append(server)
    import threading

    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sizes.put([len(b) for r in hosts.values() for p, b in r.items() if p.startswith("/news")])
    threading.Event().wait()


@dataclass(frozen=True)
class Figures:
    """What one run measured."""

    name: str
    articles: int
    seconds: float
    cpu_s: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        """Articles per second."""
        return self.articles / self.seconds


def _usage() -> tuple[float, float]:
    """CPU seconds of this process and its finished children, and the largest RSS (MB)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    return cpu, max(own.ru_maxrss, kids.ru_maxrss) / 1024


def write_sources(path: Path, hosts: list[str], port: int, concurrency: int) -> Path:
    """A sources file with one outlet per loopback host (allowed on loopback explicitly)."""
    entries = [
        {
            "id": f"outlet{k}",
            "name": f"Outlet {k}",
            "city": "Benchcity",
            "country": "DE",
            "lang": "de",
            "feeds": [f"http://{host}:{port}/feed.xml"],
            "allow_private": True,
            "concurrency": concurrency,
        }
        for k, host in enumerate(hosts)
    ]
    path.write_text(yaml.safe_dump({"sources": entries}), encoding="utf-8")
    return path


def run_bare(sources: Path, tmp: Path) -> Figures:
    """The bare spider in its own process, like framewatch's crawler."""
    before, _ = _usage()
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, __file__, "--bare-spider", str(sources), str(tmp)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - start
    cpu, rss = _usage()
    return Figures(
        "bare scrapy (download only)",
        int(out.stdout.strip().splitlines()[-1]),
        seconds,
        cpu - before,
        rss,
    )


def run_framewatch(sources: Path, tmp: Path, settings: Settings) -> Figures:
    """crawl + extraction pool + one store transaction, as ``framewatch run`` does it."""
    # Imported here, not at the top: the bare spider's process runs this file too, and
    # must not pay for importing the classifier stack (torch) that pipeline.ingest loads.
    from pipeline import ingest, store
    from pipeline.sources import load_sources

    con = store.open_store(settings.db)
    store.upsert_sources(con, load_sources(sources))
    store.start_run(con, "bench", str(sources))
    before, _ = _usage()
    server = set(multiprocessing.active_children())
    start = time.monotonic()
    collected = ingest.collect(sources, settings, con, "bench")
    seconds = time.monotonic() - start
    # Reap the extraction workers (the pool does not wait for them): their CPU counts in
    # RUSAGE_CHILDREN only once they have exited.
    while set(multiprocessing.active_children()) - server:
        time.sleep(0.05)
    cpu, rss = _usage()
    stored = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
    con.close()
    assert stored == len(collected.new_ids)
    return Figures("framewatch crawl+extract+store", stored, seconds, cpu - before, rss)


def bare_spider(sources_file: str, out_dir: str) -> None:
    """Entry of the bare spider's process: download feeds and articles, keep nothing."""
    import feedparser
    import scrapy
    from scrapy.crawler import CrawlerProcess

    from pipeline.crawl import crawl_config
    from pipeline.sources import load_sources
    from spiders.settings import crawl_settings

    sources = load_sources(Path(sources_file))
    count = [0]

    class Bare(scrapy.Spider):
        name = "bare"

        async def start(self) -> Any:
            for s in sources:
                for url in s.feeds:
                    yield scrapy.Request(url, callback=self.feed)

        def feed(self, response: Any) -> Iterator[scrapy.Request]:
            for entry in feedparser.parse(response.body).entries:
                yield scrapy.Request(entry.link, callback=self.article)

        def article(self, response: Any) -> Iterator[Any]:
            count[0] += 1
            # A generator, like framewatch's callbacks: a callback returning None costs
            # scrapy 100 idle cooperative tasks per response (CONCURRENT_ITEMS), which
            # made this "bare" spider slower than the real one.
            yield from ()

    # The settings framewatch's crawler gets (politeness, slots, limits); loopback is allowed
    # globally because this spider has no per-outlet allowance (every outlet allows it).
    allowed = Settings(allow_private=True)
    config = crawl_config(Path(sources_file), Path(out_dir), allowed, None, frozenset())
    cfg = crawl_settings(**config["settings"], sources=sources)  # type: ignore[arg-type]
    cfg["FEEDS"] = {}
    process = CrawlerProcess(cfg)
    process.crawl(Bare)
    process.start()
    print(count[0])


def start_server(n_pages: int, outlets: int, port: int) -> tuple[Any, list[int]]:
    """Start the server process; wait until it serves; return it and the page sizes."""
    ctx = multiprocessing.get_context("spawn")
    sizes = ctx.Queue()
    server = ctx.Process(target=serve, args=(n_pages, outlets, port, sizes), daemon=True)
    server.start()
    return server, sizes.get(timeout=120)


def main() -> None:
    """Serve the pages, run both crawls, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--outlets", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8, help="per outlet")
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    server, sizes = start_server(args.pages, args.outlets, args.port)
    print(
        f"{len(sizes)} pages, {min(sizes) / 1024:.0f}-{max(sizes) / 1024:.0f} KB "
        f"(mean {sum(sizes) / len(sizes) / 1024:.0f} KB), {args.outlets} outlets"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            hosts = host_names(args.outlets)
            sources = write_sources(base / "sources.yaml", hosts, args.port, args.concurrency)
            settings = Settings(db=base / "bench.duckdb", staging=base / "staging")
            results = [run_bare(sources, base), run_framewatch(sources, base, settings)]
    finally:
        server.terminate()
    for f in results:
        print(
            f"{f.name:<32} {f.articles:6d} articles {f.seconds:6.1f} s {f.rate:6.1f} articles/s"
            f"  CPU {f.cpu_s:6.1f} s  peak RSS {f.peak_rss_mb:5.0f} MB"
        )
    ratio = results[1].rate / results[0].rate
    print(f"framewatch / bare download rate: {ratio:.2f}")
    print(
        json.dumps(
            {
                "pages": len(sizes),
                "bare_rate": round(results[0].rate, 1),
                "framewatch_rate": round(results[1].rate, 1),
                "ratio": round(ratio, 2),
                "cpu_s": [round(f.cpu_s, 1) for f in results],
                "peak_rss_mb": [round(f.peak_rss_mb) for f in results],
            }
        )
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare-spider":
        bare_spider(sys.argv[2], sys.argv[3])
    else:
        main()
