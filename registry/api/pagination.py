"""``n``/``last`` pagination with a ``Link`` header, shared by the tag list and the catalog."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from .. import errors

_NUMBER = re.compile(r"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class Page:
    """The page a listing request asks for: at most ``n`` names sorted after ``last``."""

    n: int | None  # None: everything that is left
    last: str
    url: URL

    @classmethod
    def of(cls, request: web.Request, *, default: int | None = None,
           maximum: int | None = None) -> "Page":
        """Read ``n`` and ``last``; PAGINATION_NUMBER_INVALID before any listing is done."""
        text = request.query.get("n")
        n = default
        if text is not None:
            if not _NUMBER.fullmatch(text) or (maximum is not None and int(text) > maximum):
                raise errors.PaginationNumberInvalid(detail={"n": text, "maximum": maximum})
            n = int(text)
        return cls(n, request.query.get("last", ""), request.rel_url)

    def select(self, names: list[str]) -> tuple[list[str], dict[str, str]]:
        """This page of the sorted ``names``, and a ``Link`` to the next one if more are left."""
        rest = names[bisect.bisect_right(names, self.last):] if self.last else names
        if self.n is None or len(rest) <= self.n:
            return rest, {}
        page = rest[:self.n]
        if not page:
            return page, {}
        following = self.url.with_query([("n", str(self.n)), ("last", page[-1])])
        return page, {"Link": f'<{following}>; rel="next"'}
