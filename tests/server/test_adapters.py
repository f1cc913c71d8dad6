"""The two web adapters serve one route table: the tornado handlers of the Jupyter extension
answer exactly the (method, path) pairs of ``routes.ROUTES``, which the standalone app
dispatches."""

from __future__ import annotations

import re

from orchestrate_nb.server import routes
from orchestrate_nb.server.handlers import ROUTES as TORNADO_ROUTES

VERBS = ("get", "post", "put", "patch", "delete")
SAMPLE = {"([^/]+)": "abc"}


def _sample(pattern: str) -> str:
    for group, value in SAMPLE.items():
        pattern = pattern.replace(group, value)
    return pattern


def _tornado_pairs() -> set[tuple[str, str]]:
    pairs = set()
    for route in routes.ROUTES:
        path = _sample(route.pattern)
        for pattern, handler in TORNADO_ROUTES:
            found = re.fullmatch(pattern, path)
            if found is None:
                continue
            for verb in VERBS:
                if verb in vars(handler):
                    pairs.add((verb.upper(), path))
    return pairs


def test_tornado_serves_every_route_of_the_table_and_nothing_else() -> None:
    table = {(route.method, _sample(route.pattern)) for route in routes.ROUTES}
    assert _tornado_pairs() == table
    assert len(TORNADO_ROUTES) > 10


def test_the_table_matches_paths_and_tells_a_wrong_method() -> None:
    route, args, known = routes.match("GET", "runs/123/logs")
    assert route is not None and args == ("123",) and known
    route, args, known = routes.match("DELETE", "runs/123/logs")
    assert route is None and known
    route, args, known = routes.match("GET", "nothing/here")
    assert route is None and not known
