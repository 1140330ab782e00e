"""SkipAbandoned: a request whose client hung up is answered 499 before the application runs;
any other request reaches the application with its body intact."""

import io
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from service import SkipAbandoned

BODY = b'{"answers": {"phq9_1": 2}}'


class Recorder:
    """A WSGI application that notes the bodies it was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.bodies.append(environ["wsgi.input"].read(length))
        start_response("201 Created", [])
        return [b"done"]


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def call(app: SkipAbandoned, server: socket.socket, method: str = "POST") -> str:
    client_sent = server.makefile("rb")
    environ = {
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(BODY)),
        "wsgi.input": client_sent,
        "gunicorn.socket": server,
    }
    statuses: list[str] = []
    app(environ, lambda status, headers: statuses.append(status))
    return statuses[0]


def test_a_request_whose_client_hung_up_never_reaches_the_application(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.sendall(BODY)
    client.close()
    recorder = Recorder()
    assert call(SkipAbandoned(recorder, 1024), server) == "499 Client Closed Request"
    assert recorder.bodies == []


def test_a_live_client_is_served_with_its_whole_body(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.sendall(BODY)
    recorder = Recorder()
    assert call(SkipAbandoned(recorder, 1024), server) == "201 Created"
    assert recorder.bodies == [BODY]


def test_an_oversized_body_is_left_for_the_application_to_refuse(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.sendall(BODY)
    client.close()
    recorder = Recorder()
    assert call(SkipAbandoned(recorder, len(BODY) - 1), server) == "201 Created"
    assert recorder.bodies == [BODY]


def test_without_a_gunicorn_socket_nothing_is_read_early() -> None:
    recorder = Recorder()
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_LENGTH": str(len(BODY)),
        "wsgi.input": io.BytesIO(BODY),
    }
    SkipAbandoned(recorder, 1024)(environ, lambda status, headers: None)
    assert recorder.bodies == [BODY]
