"""Asking a running service (`hybridrag serve`) instead of loading the models: its /ask/stream
read as server-sent events, with the standard library only (a client needs no model, no index
and no HTTP package)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode


class ServiceError(RuntimeError):
    """The service could not be reached, or refused the request (its reason in the message)."""


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(event name, decoded JSON data) for each event of a text/event-stream, as it arrives."""
    name, data = "message", []
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield name, json.loads("\n".join(data))


def refusal(status: int, body: bytes) -> str:
    """The service's reason for an error response: FastAPI's `detail`, its validation errors
    as `field: message`, or the status alone."""
    try:
        detail = json.loads(body)["detail"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"
    if isinstance(detail, list):  # request validation: [{"loc": ["query", field], "msg": ...}]
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])[1:]))}: {d.get('msg')}"
                         for d in detail if isinstance(d, dict))
    hint = {401: " (set HYBRIDRAG_API_KEY to the service's key)",
            404: " (is it serving a chat model? /ask exists only then)"}.get(status, "")
    return f"HTTP {status}: {detail}{hint}"


def ask_service(url: str, question: str, sources: int | None = None, rerank: bool | None = None,
                max_new_tokens: int | None = None, api_key: str | None = None,
                timeout: float = 300.0) -> Iterator[tuple[str, Any]]:
    """The events of the service's /ask/stream for `question`: ("token", {"text": ...}) as the
    model writes, then ("answer", the /ask response). Unset options take the service's
    defaults. Raises ServiceError, naming the URL, when it is unreachable or refuses."""
    options = {"sources": sources, "max_new_tokens": max_new_tokens,
               "rerank": None if rerank is None else str(rerank).lower()}
    query = urlencode({"query": question, **{k: v for k, v in options.items() if v is not None}})
    request = urllib.request.Request(
        f"{url.rstrip('/')}/ask/stream?{query}",
        headers={"Accept": "text/event-stream", **({"X-API-Key": api_key} if api_key else {})})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        raise ServiceError(f"{url} refused the question: {refusal(error.code, error.read())}"
                           ) from None
    except OSError as error:  # URLError is one: refused, unresolvable, timed out
        reason = getattr(error, "reason", error)
        raise ServiceError(f"no hybridrag service at {url} ({reason}); start one with "
                           "`hybridrag serve` or check the URL") from None
    with response:
        yield from sse_events(line.decode("utf-8") for line in response)
