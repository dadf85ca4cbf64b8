"""A lean keep-alive HTTP GET client for the service benchmarks (the standard library's).

At one request at a time, the client's own work is part of every latency measured: httpx's
Client took 0.72 ms per GET of /health over loopback where http.client takes 0.47 ms (2-core
AMD EPYC, interleaved), so the benchmarks drive every server with this one.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlencode, urlsplit


class KeepAliveClient:
    """GETs over one persistent connection to `base` (http://host:port), reopened after an
    error. Not thread-safe: one per thread."""

    def __init__(self, base: str, timeout: float = 30.0):
        parts = urlsplit(base)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected http://host:port, got {base!r}")
        self.prefix = parts.path.rstrip("/")
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port or 80,
                                                     timeout=timeout)

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, bytes]:
        """The status and body of GET `path`?`params`; raises OSError or HTTPException when the
        exchange fails (the next call opens a new connection)."""
        target = self.prefix + path + (f"?{urlencode(params)}" if params else "")
        try:
            self.connection.request("GET", target)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.close()  # http.client opens a new connection on the next request
            raise

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> KeepAliveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
