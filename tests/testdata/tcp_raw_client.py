"""A raw TCP client of an ArqonBus node in Python, written from docs/API.md ("Raw TCP"):
the standard library's socket and struct, and the protobuf module generated from
arqon.proto (python3-protobuf), not the ArqonBus Python SDK.

Usage: tcp_raw_client.py HOST PORT COUNT
Subscribes to `py.>`, publishes COUNT pulses `py.n` with payload `p<i>` acked, and prints
one JSON line: {"welcome": node_id, "acks": [seq...], "payloads": [...], "error": code}.
"""
import json
import socket
import struct
import sys

sys.path.insert(0, sys.argv[4])
from arqon._proto import arqon_pb2 as pb  # noqa: E402


def send(sock, frame):
    body = frame.SerializeToString()
    sock.sendall(struct.pack(">I", len(body)) + body)


def read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("closed")
        out += chunk
    return out


def frames(sock):
    while True:
        (length,) = struct.unpack(">I", read_exact(sock, 4))
        frame = pb.Frame.FromString(read_exact(sock, length))
        if frame.WhichOneof("kind") == "batch":
            for inner in frame.batch.frames:
                yield inner
        else:
            yield frame


def main():
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection((host, port), timeout=20)
    send(sock, pb.Frame(hello=pb.Hello(client_name="py-raw", protocol_version=1)))
    incoming = frames(sock)
    welcome = next(incoming)
    assert welcome.WhichOneof("kind") == "welcome", welcome
    send(sock, pb.Frame(subscribe=pb.Subscribe(subscription_id=1, pattern="py.>", correlation_id=9)))
    while next(incoming).WhichOneof("kind") != "subscribed":
        pass
    for i in range(count):
        send(sock, pb.Frame(publish=pb.Publish(
            correlation_id=i + 1, ack=pb.ACK_MODE_RECEIVED,
            pulse=pb.Pulse(topic="py.n", payload=("p%d" % i).encode()))))
    # An invalid frame: bytes that are not a protobuf Frame.
    send_raw = b"\xff\xff\xff"
    sock.sendall(struct.pack(">I", len(send_raw)) + send_raw)
    acks, payloads, error = [], [], None
    while len(acks) < count or len(payloads) < count or error is None:
        f = next(incoming)
        kind = f.WhichOneof("kind")
        if kind == "ack":
            acks.append(f.ack.sequence)
        elif kind == "deliver":
            payloads.append(f.deliver.pulse.payload.decode())
        elif kind == "error":
            error = pb.ErrorCode.Name(f.error.code)
    print(json.dumps({"welcome": welcome.welcome.node_id, "acks": acks,
                      "payloads": payloads, "error": error}))
    sock.close()


main()
