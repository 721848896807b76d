#!/usr/bin/env python
"""The benchmark's HTTP target: one cheap recording server every system under test calls.

Runs as its own process so its CPU is not charged to any system. A minimal HTTP/1.1 keep-alive server on
an asyncio protocol (no framework, so it stays far from being the bottleneck). For every request it
records ``(path, scheduled epoch ms, arrival epoch s)``:

* the scheduled time comes from ``X-Scheduled-Ms`` (peers' jobs send it) or from DJS's
  ``Idempotency-Key: djs-<task id>-<scheduled epoch ms>``;
* the path names the job (``/t/<key>``).

Control: ``GET /__dump`` answers the records as text lines ``path scheduled_ms arrival`` and forgets
them; ``GET /__count`` answers how many are held. Loopback only.

    python bench/target.py --port 0      # prints "listening <port>" once ready
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class Recorder(asyncio.Protocol):
    records: list[tuple[bytes, int, float]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        arrival = time.time()
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            lines = head.split(b"\r\n")
            length = 0
            scheduled = -1
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip() or 0)
                elif name == b"x-scheduled-ms":
                    scheduled = int(value.strip())
                elif name == b"idempotency-key" and scheduled < 0:
                    try:
                        scheduled = int(value.strip().rsplit(b"-", 1)[1])
                    except (IndexError, ValueError):
                        pass
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            parts = lines[0].split(b" ")
            path = parts[1] if len(parts) > 1 else b"/"
            if path.startswith(b"/__"):
                self.control(path)
            else:
                Recorder.records.append((path, scheduled, arrival))
                self.transport.write(OK)  # type: ignore[attr-defined]

    def control(self, path: bytes) -> None:
        if path.startswith(b"/__dump"):
            records, Recorder.records = Recorder.records, []
            body = "".join(f"{p.decode(errors='replace')} {s} {a:.6f}\n" for p, s, a in records).encode()
        elif path.startswith(b"/__count"):
            body = str(len(Recorder.records)).encode()
        else:
            body = b"unknown control path"
        self.transport.write(  # type: ignore[attr-defined]
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Recorder, host, port, backlog=4096, reuse_address=True)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host != "::1":
        sys.exit("the benchmark target listens on loopback only")
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
