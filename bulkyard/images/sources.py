"""Where a chunk's images come from: each item's file of a ZIP, or its URL,
downloaded a few at a time (the chunk's downloads sharing one connection pool)."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from bulkyard.images.fetching import CONCURRENCY, Downloader
from bulkyard.images.params import ImageProcessParams
from bulkyard.jobs.sdk import Item, ItemError

ImageFile = tuple[str, str, bytes]  # name, stem of its outputs' names, content


def image_files(
    items: Iterable[Item], params: ImageProcessParams
) -> Generator[tuple[Item, ImageFile | ItemError], None, None]:
    """Each item with its image: a file of the ZIP, or downloaded from the
    item's URL (a few at a time, the chunk's downloads sharing one pool)."""
    with Downloader() as downloader:
        waiting: list[tuple[Item, str, str]] = []
        for item in items:
            data = item.data
            if item.error is None and isinstance(data, dict) and not _from_zip(data):
                try:
                    waiting.append((item, *_url_and_stem(item, params)))
                except ItemError as exc:
                    yield item, exc
                if len(waiting) >= CONCURRENCY:
                    yield from _downloaded(waiting, downloader)
                    waiting = []
                continue
            yield item, _archived(item)
        yield from _downloaded(waiting, downloader)


def _downloaded(
    waiting: list[tuple[Item, str, str]], downloader: Downloader
) -> Iterator[tuple[Item, ImageFile | ItemError]]:
    if not waiting:
        return
    bodies = downloader.get([url for _, url, _ in waiting])
    for (item, url, stem), body in zip(waiting, bodies, strict=True):
        yield item, body if isinstance(body, ItemError) else (url, stem, body)


def _from_zip(data: dict[str, Any]) -> bool:
    return isinstance(data.get("content"), bytes)


def _archived(item: Item) -> ImageFile | ItemError:
    data = item.data
    if not (isinstance(data, dict) and _from_zip(data)):
        return ItemError("invalid_item", "an image is a file of a ZIP or a row with a URL")
    name = str(data["name"])
    return name, str(data.get("stem") or name), data["content"]


UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _url_and_stem(item: Item, params: ImageProcessParams) -> tuple[str, str]:
    """The item's URL, and its outputs' stem: its line number and its name
    (or the URL's file name), one path segment of safe characters."""
    url = item.data.get(params.url_field)
    if not isinstance(url, str) or not url.strip():
        raise ItemError("missing_url", f"the item has no URL in {params.url_field!r}")
    url = url.strip()
    given = item.data.get(params.name_field) if params.name_field else None
    label = str(given) if given not in (None, "") else urlsplit(url).path.rsplit("/", 1)[-1]
    label = UNSAFE_IN_NAME.sub("_", posixpath.splitext(label)[0]).strip("._")[:100] or "image"
    return url, f"{item.number}-{label}"
