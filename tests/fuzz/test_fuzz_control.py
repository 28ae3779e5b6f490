"""Hostile control-socket clients (issue 7): random bytes, invalid and deeply nested
JSON, wrong types, oversized requests, requests split at random points, half-closed and
reset connections, many connections at once. Each gets a clear ``{"ok": false,
"error": ...}`` answer or is dropped; the server never logs an internal failure, the
controller only ever sees well-typed calls, and a normal status request works after
every one of them.

Everything is real: a Unix socket served by ``ControlServer`` from its own thread, raw
client sockets, ``ControlClient``. The daemon behind it is a small real ``Controller``
written here (the daemon loop is not needed to test the socket). The fuzzers are
hypothesis strategies with a fixed ``max_examples`` (``HANDMAP_FUZZ_EXAMPLES`` raises
it); each prints how many inputs it tried (``pytest -s`` or ``-rP``) and records it as
the junit property ``inputs_tried``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest
from fuzzing import EXAMPLES, FUZZ, report
from hypothesis import given, settings
from hypothesis import strategies as st

from handmap.daemon.control import (
    COMMANDS,
    MAX_REQUEST_BYTES,
    ControlClient,
    ControlServer,
    StatusRequest,
    handle_request,
)
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot

REQUEST_TIMEOUT_S = 1.0  # the server's per-request deadline here (5 s in the daemon)
PROFILES = ("desktop", "presenter")


class StrictController:
    """A real, thread-safe Controller that checks every call it gets is well typed
    (``wrong_calls`` lists any that is not) and counts the calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.paused = False
        self.muted = False
        self.profile = PROFILES[0]
        self.calls = 0
        self.quits = 0
        self.wrong_calls: list[str] = []

    def _call(self) -> None:
        with self._lock:
            self.calls += 1

    def status(self) -> StatusSnapshot:
        self._call()
        return StatusSnapshot(state=DaemonState.PAUSED if self.paused else DaemonState.RUNNING, profile=self.profile,
                              fps=30.0, hands_seen=0, output="dry-run", uptime_s=1.0, alerts_muted=self.muted,
                              profiles=PROFILES)

    def pause(self, by="") -> None:
        self._call()
        self.paused = True

    def resume(self) -> None:
        self._call()
        self.paused = False

    def toggle_pause(self, by="") -> None:
        self._call()
        self.paused = not self.paused

    def switch_profile(self, name: str) -> None:
        self._call()
        if type(name) is not str:
            self.wrong_calls.append(f"switch_profile({name!r})")
        if name not in PROFILES:
            raise KeyError(f"no profile named {name!r}")
        self.profile = name

    def set_alerts_muted(self, muted: bool) -> None:
        self._call()
        if type(muted) is not bool:
            self.wrong_calls.append(f"set_alerts_muted({muted!r})")
        self.muted = muted

    def quit(self) -> None:
        self._call()
        self.quits += 1  # a test daemon does not stop; the count shows it was asked


@pytest.fixture(scope="module")
def controller() -> StrictController:
    return StrictController()


@pytest.fixture(scope="module")
def server(controller):
    folder = Path(tempfile.mkdtemp(prefix="hm-fz-", dir="/tmp"))  # short: AF_UNIX paths are at most 104 bytes
    os.chmod(folder, 0o700)
    srv = ControlServer(controller, folder / "handmap.sock", request_timeout_s=REQUEST_TIMEOUT_S)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        for p in folder.iterdir():
            p.unlink()
        folder.rmdir()


@pytest.fixture()
def no_internal_errors(caplog):
    """The server thread logs an ERROR (with a traceback) when a request breaks it."""
    with caplog.at_level(logging.ERROR, logger="handmap"):
        yield
    failures = [r for r in caplog.records if r.name.startswith("handmap.control") and r.levelno >= logging.ERROR]
    assert not failures, [r.getMessage() for r in failures]


def status_works(server: ControlServer, controller: StrictController) -> None:
    with ControlClient(server.path, timeout=10) as client:
        answer = client.request(StatusRequest())
    assert answer["ok"] is True and answer["status"]["profile"] == controller.profile, answer
    assert server.running
    assert not controller.wrong_calls, controller.wrong_calls


def check_answer_line(line: bytes) -> dict:
    answer = json.loads(line)
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), answer
    if not answer["ok"]:
        assert isinstance(answer["error"], str) and answer["error"] and len(answer["error"]) < 600, answer
    return answer


def raw_exchange(server: ControlServer, chunks: list[bytes], ending: str, pause_s: float = 0.0) -> list[dict]:
    """Send ``chunks`` on a fresh connection; then ``half_close`` (shut our side, read
    every answer to EOF), ``close`` (hang up without reading) or ``reset`` (RST)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(os.fspath(server.path))
    answers = []
    try:
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server hung up (e.g. an oversized request): its answer may wait
            if pause_s:
                time.sleep(pause_s)
        if ending == "half_close":
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            data = b""
            while True:
                try:
                    part = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not part:
                    break
                data += part
            for line in data.split(b"\n"):
                if line:
                    answers.append(check_answer_line(line))
        elif ending == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    finally:
        sock.close()
    return answers


# ----------------------------------------------------------------------------- in-process fuzzers

def json_containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3))


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
                           json_containers, max_leaves=10)
requests = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"cmd": st.one_of(st.sampled_from(sorted(COMMANDS)), json_values)},
                          optional={"name": st.one_of(st.sampled_from(PROFILES), json_values),
                                    "muted": json_values, "extra": json_values}).map(lambda d: json.dumps(d).encode()),
    st.sampled_from([b"[" * 4000, b"{" * 2000, b'{"cmd": ' + b"[" * 3000 + b"]" * 3000 + b"}", b"9" * 4096,
                     b'{"cmd": "profile", "name": "\\ud800"}', b'{"cmd": "status", "cmd": "quit"}', b"\x00" * 100,
                     b'{"cmd": "alerts", "muted": 1}', b'{"cmd": "alerts", "muted": "false"}',
                     b'{"cmd": "profile", "name": ["desktop"]}', b"\xff\xfe{}"]),
)


def test_fuzz_request_lines(controller, no_internal_errors, record_property):
    """handle_request directly: every line gets one JSON-encodable answer, and the
    controller is only ever called with the types its protocol promises."""
    tried = 0

    @settings(FUZZ, max_examples=EXAMPLES * 4)
    @given(requests)
    def check(line):
        nonlocal tried
        tried += 1
        answer = handle_request(controller, line)
        check_answer_line(json.dumps(answer).encode())

    check()
    report(record_property, "control: request lines (in process)", tried)
    assert tried >= EXAMPLES * 3 and not controller.wrong_calls


# ----------------------------------------------------------------------------- socket fuzzers


@st.composite
def sessions(draw):
    """Requests joined by newlines (or not), cut into chunks at random points."""
    lines = draw(st.lists(requests, min_size=1, max_size=4))
    joiner = draw(st.sampled_from([b"\n", b"\r\n", b"\n\n", b""]))
    payload = joiner.join(line.replace(b"\n", b" ") for line in lines) + draw(st.sampled_from([b"\n", b""]))
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=4)))
    chunks = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
    return [c for c in chunks if c], draw(st.sampled_from(["half_close", "half_close", "close", "reset"]))


def test_fuzz_socket_sessions(server, controller, no_internal_errors, record_property):
    tried = answered = 0

    @settings(FUZZ, max_examples=max(EXAMPLES // 2, 20))
    @given(sessions())
    def check(session):
        nonlocal tried, answered
        chunks, ending = session
        tried += 1
        answers = raw_exchange(server, chunks, ending)
        answered += len(answers)
        if ending == "half_close":
            complete = sum(1 for line in b"".join(chunks).split(b"\n") if line.strip())
            assert 1 <= len(answers) <= max(complete, 1) or not b"".join(chunks).strip(), (chunks, answers)
        status_works(server, controller)

    check()
    report(record_property, f"control: socket sessions ({answered} answers)", tried)
    assert tried >= EXAMPLES // 3


def test_oversized_requests(server, controller, no_internal_errors):
    big = os.urandom(4 * 1024 * 1024).replace(b"\n", b" ")
    for chunks in ([big], [b'{"cmd": "status", "pad": "' + b"x" * (MAX_REQUEST_BYTES * 4) + b'"}\n'],
                   [b"x" * 1000] * 100):
        answers = raw_exchange(server, chunks, "half_close")
        assert answers == [{"ok": False, "error": f"request too large (at most {MAX_REQUEST_BYTES} bytes per line)"}]
        status_works(server, controller)
    assert server.stats().oversized >= 3


def test_half_closed_and_abandoned_connections(server, controller, no_internal_errors):
    # a half request, then our side shut: it is answered as the request it is
    assert raw_exchange(server, [b'{"cmd": "sta'], "half_close")[0]["ok"] is False
    # a whole request without its newline, then shut: answered
    assert raw_exchange(server, [b'{"cmd": "status"}'], "half_close")[0]["ok"] is True
    # a client that sends half a request and then says nothing: dropped at the deadline
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.fspath(server.path))
    sock.sendall(b'{"cmd": ')
    sock.settimeout(REQUEST_TIMEOUT_S * 5)
    assert sock.recv(100) == b""  # closed by the server, no answer to a request never finished
    sock.close()
    # 500 pipelined status requests, then hang up (RST) without reading one answer
    raw_exchange(server, [b'{"cmd": "status"}\n' * 500], "reset")
    raw_exchange(server, [b'{"cmd": "status"}\n' * 500], "close")
    status_works(server, controller)


def test_many_concurrent_connections(server, controller, no_internal_errors):
    """60 clients at once, each sending garbage byte by byte and then half-closing:
    every one gets a clear answer (an error, or 'too many connections'), and then a
    normal status request works."""
    results: dict[int, list[dict]] = {}
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            payload = [bytes([b]) for b in f'{{"cmd": "nope{i}"}}\nnot json {i}\n'.encode()]
            results[i] = raw_exchange(server, payload, "half_close", pause_s=0.001)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(results) == 60
    kinds = {"answered": 0, "busy": 0, "dropped": 0}
    for i, answers in results.items():
        assert all(a["ok"] is False for a in answers), answers
        if len(answers) == 2:
            assert answers[0]["error"].startswith(f"unknown command 'nope{i}'"), answers
            assert answers[1]["error"].startswith("request is not valid JSON"), answers
            kinds["answered"] += 1
        elif answers:  # refused while the server held its limit of connections
            assert answers == [{"ok": False, "error": f"too many control connections (at most "
                                                      f"{server.max_connections}); try again"}], answers
            kinds["busy"] += 1
        else:  # a flood (twice the limit): hung up on without a courtesy answer
            kinds["dropped"] += 1
    print(f"\n60 concurrent clients: {kinds}")
    assert kinds["answered"] >= 1 and kinds["answered"] + kinds["busy"] + kinds["dropped"] == 60
    status_works(server, controller)


def test_idle_connections_at_the_limit_then_released(server, controller, no_internal_errors):
    held = []
    try:
        for _ in range(server.max_connections):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(os.fspath(server.path))
            held.append(s)
        time.sleep(0.2)  # let the server accept them all
        with ControlClient(server.path, timeout=10) as client:
            answer = client.request(StatusRequest())
        assert answer == {"ok": False, "error": f"too many control connections (at most {server.max_connections}); "
                                                "try again"}
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 10
    while True:  # the server notices the closed connections on its next loop
        with ControlClient(server.path, timeout=10) as client:
            if client.request(StatusRequest())["ok"] or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    status_works(server, controller)
