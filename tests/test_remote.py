"""The service client's parts by hand: server-sent events as they arrive, and the service's
refusals as a reader sees them."""

from hybridrag.remote import refusal, sse_events


def test_events_are_split_on_blank_lines_and_decoded():
    lines = ["event: token\n", 'data: {"text": "[1]"}\n', "\n",
             ": a comment line\n", "event: token\r\n", 'data: {"text": " Paris"}\r\n', "\r\n",
             "event: answer\n", 'data: {"answer":\n', 'data: "[1] Paris"}\n']  # no last blank
    assert list(sse_events(lines)) == [("token", {"text": "[1]"}), ("token", {"text": " Paris"}),
                                       ("answer", {"answer": "[1] Paris"})]


def test_an_event_without_a_name_is_a_message():
    assert list(sse_events(["data: 3", ""])) == [("message", 3)]


def test_refusals_give_the_services_reason():
    validation = (b'{"detail": [{"type": "less_than_equal", "loc": ["query", "max_new_tokens"], '
                  b'"msg": "Input should be less than or equal to 512"}]}')
    assert refusal(422, validation) == "max_new_tokens: Input should be less than or equal to 512"
    assert refusal(401, b'{"detail": "missing or wrong X-API-Key header"}') == (
        "HTTP 401: missing or wrong X-API-Key header (set HYBRIDRAG_API_KEY to the service's key)")
    assert refusal(503, b'{"detail": "no index loaded yet"}') == "HTTP 503: no index loaded yet"
    assert refusal(502, b"<html>Bad Gateway</html>") == "HTTP 502"
