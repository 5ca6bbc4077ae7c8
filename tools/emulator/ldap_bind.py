"""A minimal LDAP server that answers simple binds only: how PostgreSQL asks the emulator about a
password it cannot check itself.

PostgreSQL's `ldap` authentication in simple-bind mode (pg_hba `ldapprefix`/`ldapsuffix`) binds
as `<prefix><user><suffix>` with the password the client sent, and lets the client in when the
bind succeeds (PostgreSQL 15 docs, Client Authentication, "LDAP Authentication"). This server
decodes the BER of an LDAPMessage (RFC 4511 section 4.2: BindRequest with simple
authentication), asks a `check(name, password)` callback, and answers a BindResponse:
success (0) or invalidCredentials (49). Anything else ends the connection. Loopback only.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from typing import IO

from tools.emulator.processes import LOOPBACK

SEQUENCE = 0x30
INTEGER = 0x02
OCTET_STRING = 0x04
ENUMERATED = 0x0A
BIND_REQUEST = 0x60  # [APPLICATION 0], constructed
BIND_RESPONSE = 0x61  # [APPLICATION 1], constructed
UNBIND_REQUEST = 0x42  # [APPLICATION 2], primitive
SIMPLE_AUTH = 0x80  # AuthenticationChoice simple [0], primitive
SUCCESS = 0
INVALID_CREDENTIALS = 49
AUTH_METHOD_NOT_SUPPORTED = 7
MAX_MESSAGE = 64 * 1024  # a token is about 1.5 KB; nothing legitimate comes near this

Check = Callable[[str, str], bool]


class BerError(ValueError):
    """Bytes that are not the BER this server understands."""


def encode(tag: int, content: bytes) -> bytes:
    """One BER TLV with a definite length (short form below 128, long form above)."""
    size = len(content)
    if size < 0x80:
        return bytes((tag, size)) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + content


def decode_all(data: bytes) -> list[tuple[int, bytes]]:
    """The TLVs that make up `data`, in order."""
    elements = []
    offset = 0
    while offset < len(data):
        tag, content, offset = _decode_one(data, offset)
        elements.append((tag, content))
    return elements


def _decode_one(data: bytes, offset: int) -> tuple[int, bytes, int]:
    if offset + 2 > len(data):
        raise BerError("truncated element")
    tag, first = data[offset], data[offset + 1]
    offset += 2
    size, offset = _length(first, data, offset)
    if offset + size > len(data):
        raise BerError("element longer than its container")
    return tag, data[offset : offset + size], offset + size


def _length(first: int, data: bytes, offset: int) -> tuple[int, int]:
    if first < 0x80:
        return first, offset
    count = first & 0x7F
    if count == 0 or count > 4 or offset + count > len(data):
        raise BerError("indefinite or oversized length")
    return int.from_bytes(data[offset : offset + count], "big"), offset + count


def read_message(stream: IO[bytes]) -> bytes | None:
    """The content of the next LDAPMessage SEQUENCE on `stream`; None at the end."""
    head = stream.read(2)
    if len(head) < 2:
        return None
    if head[0] != SEQUENCE:
        raise BerError("an LDAPMessage is a SEQUENCE")
    size = head[1]
    if size >= 0x80:
        count = size & 0x7F
        if count == 0 or count > 4:
            raise BerError("indefinite or oversized length")
        size = int.from_bytes(stream.read(count), "big")
    if size > MAX_MESSAGE:
        raise BerError("message too long")
    content = stream.read(size)
    if len(content) < size:
        raise BerError("connection closed inside a message")
    return content


def bind_response(message_id: bytes, result_code: int, diagnostic: str = "") -> bytes:
    """LDAPMessage { messageID, BindResponse { resultCode, matchedDN "", diagnosticMessage } }."""
    result = encode(ENUMERATED, bytes((result_code,)))
    result += encode(OCTET_STRING, b"") + encode(OCTET_STRING, diagnostic.encode())
    return encode(SEQUENCE, encode(INTEGER, message_id) + encode(BIND_RESPONSE, result))


def answer(message: bytes, check: Check) -> bytes | None:
    """The reply to one LDAPMessage's content; None to close the connection (unbind, or
    anything but a bind)."""
    elements = decode_all(message)
    if len(elements) < 2 or elements[0][0] != INTEGER:
        raise BerError("an LDAPMessage starts with its messageID")
    (_, message_id), (operation, body) = elements[0], elements[1]
    if operation != BIND_REQUEST:
        return None  # unbindRequest, or an operation this server does not offer
    parts = decode_all(body)
    if len(parts) != 3 or parts[0][0] != INTEGER or parts[1][0] != OCTET_STRING:
        raise BerError("a BindRequest is version, name, authentication")
    if parts[2][0] != SIMPLE_AUTH:
        return bind_response(message_id, AUTH_METHOD_NOT_SUPPORTED, "simple bind only")
    name, password = parts[1][1].decode(errors="replace"), parts[2][1].decode(errors="replace")
    accepted = bool(password) and check(name, password)
    return bind_response(message_id, SUCCESS if accepted else INVALID_CREDENTIALS)


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30  # a client that stops talking does not hold a thread forever
    server: BindServer

    def handle(self) -> None:
        try:
            while (message := read_message(self.rfile)) is not None:
                reply = answer(message, self.server.check)
                if reply is None:
                    return
                self.wfile.write(reply)
                self.wfile.flush()
        except (BerError, OSError):
            return  # a client speaking something else: hang up, as an LDAP server does


class BindServer(socketserver.ThreadingTCPServer):
    daemon_threads = True  # the moto process exits without waiting for open connections
    allow_reuse_address = True

    def __init__(self, check: Check) -> None:
        super().__init__((LOOPBACK, 0), _Handler)
        self.check = check

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def serve(check: Check) -> BindServer:
    """A running server on a free loopback port (a daemon thread serves it)."""
    server = BindServer(check)
    threading.Thread(target=server.serve_forever, name="ldap-bind", daemon=True).start()
    return server
