import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support.http_client import KeepAliveClient


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    connections: set[int] = set()

    def do_GET(self):
        Echo.connections.add(self.client_address[1])
        body = self.path.encode()
        self.send_response(404 if self.path.startswith("/missing") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Echo.connections.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_gets_over_one_connection_with_encoded_parameters(server):
    with KeepAliveClient(server) as client:
        assert client.get("/search", {"query": "a b&c", "k": 3}) == (200, b"/search?query=a+b%26c&k=3")
        assert client.get("/missing") == (404, b"/missing")
    assert len(Echo.connections) == 1


def test_a_dropped_connection_raises_once_then_reconnects(server):
    with KeepAliveClient(server) as client:
        client.get("/a")
        client.connection.sock.close()  # the socket dies under the client
        with pytest.raises(OSError):
            client.get("/b")
        assert client.get("/c") == (200, b"/c")
    assert len(Echo.connections) == 2


def test_only_http_urls():
    with pytest.raises(ValueError, match="http://host:port"):
        KeepAliveClient("https://example.org")
