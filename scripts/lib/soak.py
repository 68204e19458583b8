#!/usr/bin/env python3
"""The driver of scripts/soak: a soak with faults against release builds of the API and the OCR
worker, on PostgreSQL and the AWS emulator, loopback only.

scripts/soak starts PostgreSQL and the emulator, makes a fresh database and bucket, builds the
binaries and runs this with their whereabouts. This program then:

- starts the API (S3 storage on the emulator) and an OCR worker, and registers a pool of users;
- drives a weighted mix of reads, writes, receipt uploads and logins over many keep-alive
  connections (one thread each) for a fixed time, recording every request's kind, status and
  latency, and every write answered 2xx with what was sent;
- injects three faults one after another, with quiet time between: a PostgreSQL restart, a
  SIGKILL of the OCR worker while it holds a job (a second worker is started after it), and the
  object store frozen with SIGSTOP for a while;
- samples the RSS of the API and the workers every second;
- waits for the OCR queue to drain, checks the database and the bucket against every write
  answered 2xx, prints a Markdown report on standard output and exits 1 when a check fails.

Python's standard library only. Progress goes to standard error; the logs of the API and the
workers, every request and every RSS sample are kept in the run folder it is given.
"""

from __future__ import annotations

import argparse
import collections
import csv
import dataclasses
import hashlib
import http.client
import io
import json
import math
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timezone

PASSWORD = "correct horse battery"
API_PREFIX = "/api/v1"
# How long a client waits for an answer: past the API's own 30 s request timeout (which answers
# 408), so a request that gets no answer at all is one the API dropped.
CLIENT_TIMEOUT_SECONDS = 60
# The API deletes the key of an upload refused on a storage timeout again this long after
# refusing it (crates/ledgerly-api/src/routes/receipts.rs, LATE_DELETES).
LATE_DELETE_SECONDS = 15
# A recovery slower than this fails the run.
RECOVERY_LIMIT_SECONDS = 5.0
WORKER_LEASE_SECONDS = 10


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Receipt images: PNGs drawn with a 5x7 bitmap font, like a till's printout. Each has its own
# items and total, so every upload is a new file with its own SHA-256.

FONT = {
    "A": [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    "B": ["####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."],
    "C": [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."],
    "D": ["####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."],
    "E": ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
    "F": ["#####", "#....", "#....", "####.", "#....", "#....", "#...."],
    "G": [".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"],
    "H": ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
    "I": [".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "J": ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."],
    "K": ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"],
    "L": ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
    "M": ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
    "N": ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"],
    "O": [".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "P": ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."],
    "Q": [".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"],
    "R": ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
    "S": [".####", "#....", "#....", ".###.", "....#", "....#", "####."],
    "T": ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
    "U": ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
    "V": ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
    "W": ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."],
    "X": ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"],
    "Y": ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."],
    "Z": ["#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"],
    "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
    "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    "3": ["#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."],
    "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
    "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
    "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
    "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
    "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
    "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
    ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
    ":": [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
    "-": [".....", ".....", ".....", "#####", ".....", ".....", "....."],
    "/": [".....", "....#", "...#.", "..#..", ".#...", "#....", "....."],
    " ": [".....", ".....", ".....", ".....", ".....", ".....", "....."],
}
GLYPH_SCALE = 3  # each font dot is 3x3 pixels
ADVANCE = 6 * GLYPH_SCALE  # a glyph and a dot of space
LINE_HEIGHT = 10 * GLYPH_SCALE
LINE_CHARS = 24
MARGIN = 24
SHOPS = ["FRESH MART", "CORNER CAFE", "CITY PHARMACY", "GREEN GROCER", "BOOK NOOK"]
ITEMS = ["TEA", "COFFEE", "BREAD", "MILK", "RICE", "SOAP", "PENS", "EGGS", "APPLES", "JUICE"]


def png(width: int, height: int, gray: bytes) -> bytes:
    """An 8-bit grayscale PNG of `gray` (rows top to bottom, one byte a pixel)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    # Filter type 0 (none) before every row.
    raw = b"".join(b"\x00" + gray[y * width : (y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def render_lines(lines: list[str]) -> bytes:
    """`lines` in black on white, as a PNG."""
    width = 2 * MARGIN + LINE_CHARS * ADVANCE
    height = 2 * MARGIN + len(lines) * LINE_HEIGHT
    pixels = bytearray(b"\xff" * (width * height))
    for row, text in enumerate(lines):
        top = MARGIN + row * LINE_HEIGHT
        for column, char in enumerate(text[:LINE_CHARS]):
            left = MARGIN + column * ADVANCE
            for dot_y, dots in enumerate(FONT.get(char.upper(), FONT[" "])):
                for dot_x, dot in enumerate(dots):
                    if dot != "#":
                        continue
                    for dy in range(GLYPH_SCALE):
                        start = (top + dot_y * GLYPH_SCALE + dy) * width + left + dot_x * GLYPH_SCALE
                        pixels[start : start + GLYPH_SCALE] = b"\x00" * GLYPH_SCALE
    return png(width, height, bytes(pixels))


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def receipt_image(rng: random.Random) -> bytes:
    """A till receipt: a shop, a date, three items and their total."""
    items = [(name, rng.randint(500, 90000)) for name in rng.sample(ITEMS, 3)]
    total = sum(price for _, price in items)

    def priced(label: str, minor: int) -> str:
        amount = money(minor)
        return label + " " * max(1, LINE_CHARS - len(label) - len(amount)) + amount

    lines = [
        rng.choice(SHOPS),
        f"{rng.randint(1, 99)} MG ROAD",
        f"DATE: {rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2025",
        "",
        *(priced(name, price) for name, price in items),
        "",
        priced("TOTAL", total),
        "THANK YOU",
    ]
    return render_lines(lines)


# ----------------------------------------------------------------------------------------------
# HTTP


@dataclasses.dataclass
class Answer:
    status: int  # 0: no answer (refused, reset, timed out); `error` says which
    body: bytes
    retry_after: str | None
    error: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def error_message(answer: Answer) -> str:
    """The API's `error.message`, or "" when the body has none."""
    body = answer.json()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = body["error"].get("message")
        if isinstance(message, str):
            return message.strip()
    return ""


class Connection:
    """One keep-alive connection to the API, opened again after any failure."""

    def __init__(self, port: int):
        self.port = port
        self.connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        token: str | None = None,
        content_type: str | None = None,
    ) -> Answer:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=CLIENT_TIMEOUT_SECONDS
                )
                self.connection.connect()
                # A request goes out at once, not held back for the last one's ACK (Nagle).
                self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
            answer = Answer(response.status, data, response.getheader("Retry-After"))
            if response.will_close:
                self.close()
            return answer
        except (OSError, http.client.HTTPException) as err:
            self.close()
            return Answer(0, b"", None, f"{type(err).__name__}: {err}")

    def json(self, method: str, path: str, value, token: str | None = None) -> Answer:
        return self.request(method, path, json.dumps(value).encode(), token, "application/json")


def multipart(field: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file field, and its Content-Type."""
    boundary = "soak" + hashlib.sha256(content).hexdigest()[:24]
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


# ----------------------------------------------------------------------------------------------
# The load


@dataclasses.dataclass
class User:
    email: str
    id: str
    token: str
    categories: list[str]  # ids


LIST_EXPENSES = "GET /expenses"
SUMMARY = "GET /summary"
STATS_MONTHLY = "GET /stats/monthly"
STATS_CATEGORIES = "GET /stats/categories"
LIST_RECEIPTS = "GET /receipts"
CREATE_EXPENSE = "POST /expenses"
CHANGE_EXPENSE = "PATCH /expenses/{id}"
UPLOAD_RECEIPT = "POST /receipts"
LOGIN = "POST /auth/login"

# The mix, by weight. Uploads are also paced (see Pacer) so the OCR worker can keep up; a thread
# that draws an upload when none is due draws again.
MIX = [
    (LIST_EXPENSES, 22),
    (SUMMARY, 10),
    (STATS_MONTHLY, 8),
    (STATS_CATEGORIES, 6),
    (LIST_RECEIPTS, 8),
    (CREATE_EXPENSE, 26),
    (CHANGE_EXPENSE, 10),
    (UPLOAD_RECEIPT, 6),
    (LOGIN, 2),
]
KINDS = [kind for kind, _ in MIX]
WRITES = {CREATE_EXPENSE, CHANGE_EXPENSE, UPLOAD_RECEIPT}


@dataclasses.dataclass
class ExpectedExpense:
    """An expense the API answered 2xx for, and the states it may now be in: one, unless a
    change got no certain answer (no answer, or 5xx), after which either may hold."""

    id: str
    user_id: str
    states: list[dict]
    changes: int = 0


@dataclasses.dataclass
class ExpectedReceipt:
    id: str
    user_id: str
    object_key: str
    sha256: str
    size: int


@dataclasses.dataclass
class ThreadRecord:
    """What one load thread saw. Threads keep their own; they are merged at the end."""

    # (start, end, kind, status, detail): seconds from the traffic's start; detail names a
    # missing message or Retry-After on an error, or the failure when there was no answer.
    samples: list[tuple[float, float, str, int, str]] = dataclasses.field(default_factory=list)
    expenses: dict[str, ExpectedExpense] = dataclasses.field(default_factory=dict)
    receipts: dict[str, ExpectedReceipt] = dataclasses.field(default_factory=dict)
    # Writes answered with an error: the note of an expense, the SHA-256 and MD5 of an upload,
    # and the status; after the run, any of them found in the database or the bucket was written
    # all the same.
    refused_creates: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    refused_uploads: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)


class Pacer:
    """At most `rate` events a second across all threads."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate > 0 else math.inf
        self.next_due = 0.0
        self.lock = threading.Lock()

    def take(self) -> bool:
        now = time.monotonic()
        with self.lock:
            if now < self.next_due:
                return False
            self.next_due = now + self.interval
            return True


class Load:
    """The load threads, their shared settings and what they recorded."""

    def __init__(self, port: int, users: list[User], connections: int, uploads_per_second: float, tag: str):
        self.port = port
        self.users = users
        self.tag = tag
        self.pacer = Pacer(uploads_per_second)
        self.stop = threading.Event()
        self.started_at = 0.0  # monotonic
        self.records = [ThreadRecord() for _ in range(connections)]
        # Bodies of answers worth quoting: every 4xx (the load sends only valid requests), 5xx
        # other than 503, and 503s without a message.
        self.examples: list[tuple[float, str, int, str]] = []
        self.examples_lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self.drive, args=(i,), name=f"load-{i}", daemon=True)
            for i in range(connections)
        ]

    def start(self) -> None:
        self.started_at = time.monotonic()
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT_SECONDS + 5)

    def now(self) -> float:
        return time.monotonic() - self.started_at

    def requests_so_far(self) -> int:
        return sum(len(record.samples) for record in self.records)

    def drive(self, index: int) -> None:
        """One connection's loop: draw a kind, send it, record what came back."""
        rng = random.Random(f"{self.tag}-{index}")
        user = self.users[index % len(self.users)]
        record = self.records[index]
        connection = Connection(self.port)
        weights = [weight for _, weight in MIX]
        own: list[str] = []  # this thread's expenses, the only ones it changes
        serial = 0
        while not self.stop.is_set():
            kind = rng.choices(KINDS, weights)[0]
            if kind == UPLOAD_RECEIPT and not self.pacer.take():
                continue
            if kind == CHANGE_EXPENSE and not own:
                kind = CREATE_EXPENSE
            serial += 1
            month = f"2025-{rng.randint(1, 12):02d}"
            sent = None
            started = self.now()
            if kind == LIST_EXPENSES:
                answer = connection.request(
                    "GET", f"{API_PREFIX}/expenses?page={rng.randint(1, 3)}&per_page=50", token=user.token
                )
            elif kind == SUMMARY:
                answer = connection.request("GET", f"{API_PREFIX}/summary?month={month}", token=user.token)
            elif kind == STATS_MONTHLY:
                answer = connection.request("GET", f"{API_PREFIX}/stats/monthly?year=2025", token=user.token)
            elif kind == STATS_CATEGORIES:
                answer = connection.request(
                    "GET", f"{API_PREFIX}/stats/categories?month={month}", token=user.token
                )
            elif kind == LIST_RECEIPTS:
                answer = connection.request("GET", f"{API_PREFIX}/receipts?per_page=20", token=user.token)
            elif kind == LOGIN:
                answer = connection.json(
                    "POST", f"{API_PREFIX}/auth/login", {"email": user.email, "password": PASSWORD}
                )
            elif kind == CREATE_EXPENSE:
                sent = {
                    "date": f"{month}-{rng.randint(1, 28):02d}",
                    "category_id": rng.choice(user.categories),
                    "vendor": f"Soak vendor {index}-{serial}",
                    "amount_minor": rng.randint(100, 5_000_000),
                    "note": f"soak {self.tag} t{index} n{serial}",
                }
                answer = connection.json(
                    "POST",
                    f"{API_PREFIX}/expenses",
                    {
                        "date": sent["date"],
                        "category": sent["category_id"],
                        "vendor": sent["vendor"],
                        "amount": money(sent["amount_minor"]),
                        "note": sent["note"],
                    },
                    token=user.token,
                )
            elif kind == CHANGE_EXPENSE:
                expected = record.expenses[rng.choice(own)]
                change = {
                    "vendor": f"Soak changed {index}-{serial}",
                    "amount_minor": rng.randint(100, 5_000_000),
                    "note": f"soak {self.tag} t{index} n{serial} changed",
                }
                answer = connection.json(
                    "PATCH",
                    f"{API_PREFIX}/expenses/{expected.id}",
                    {"vendor": change["vendor"], "amount": money(change["amount_minor"]), "note": change["note"]},
                    token=user.token,
                )
                sent = (expected, change)
            else:  # UPLOAD_RECEIPT
                image = receipt_image(rng)
                body, content_type = multipart("file", f"receipt-{index}-{serial}.png", image, "image/png")
                answer = connection.request("POST", f"{API_PREFIX}/receipts", body, user.token, content_type)
                sent = image
            ended = self.now()
            record.samples.append((started, ended, kind, answer.status, self.detail(answer, kind, started)))
            self.remember(record, own, user, kind, sent, answer)

    def detail(self, answer: Answer, kind: str, started: float) -> str:
        """What is wrong with an error answer beyond its status; "" for a sound one."""
        if answer.status == 0:
            return answer.error
        if answer.status < 400:
            return ""
        flags = []
        if not error_message(answer):
            flags.append("no message")
        if answer.status == 503 and not answer.retry_after:
            flags.append("no Retry-After")
        if answer.status != 503 or flags:
            with self.examples_lock:
                if len(self.examples) < 100:
                    text = answer.body[:300].decode("utf-8", "replace")
                    self.examples.append((started, kind, answer.status, text))
        return "; ".join(flags)

    def remember(self, record: ThreadRecord, own: list[str], user: User, kind: str, sent, answer: Answer) -> None:
        """Keeps what a write's answer says is (or may be) in the database now."""
        ok = 200 <= answer.status < 300
        # No answer or a 5xx: the write may or may not have happened.
        uncertain = answer.status == 0 or answer.status >= 500
        if kind == CREATE_EXPENSE:
            body = answer.json() if ok else None
            if ok and isinstance(body, dict) and body.get("id"):
                state = {key: value for key, value in sent.items()}
                record.expenses[body["id"]] = ExpectedExpense(body["id"], user.id, [state])
                own.append(body["id"])
            elif not ok:
                record.refused_creates.append((sent["note"], answer.status))
        elif kind == CHANGE_EXPENSE:
            expected, change = sent
            state = dict(expected.states[-1], **change)
            if ok:
                expected.states = [state]
                expected.changes += 1
            elif uncertain:
                expected.states.append(state)
        elif kind == UPLOAD_RECEIPT:
            sha256 = hashlib.sha256(sent).hexdigest()
            body = answer.json() if ok else None
            if ok and isinstance(body, dict) and body.get("id"):
                receipt_id = body["id"]
                record.receipts[receipt_id] = ExpectedReceipt(
                    receipt_id, user.id, f"receipts/{user.id}/{receipt_id}.png", sha256, len(sent)
                )
            elif not ok:
                record.refused_uploads.append((sha256, hashlib.md5(sent).hexdigest(), answer.status))


# ----------------------------------------------------------------------------------------------
# Processes, services and faults


@dataclasses.dataclass
class Fault:
    name: str
    started: float  # seconds from the traffic's start
    lifted: float  # when the fault ended: pg_ctl returned, the new worker started, SIGCONT sent
    notes: list[str] = dataclasses.field(default_factory=list)
    data: dict = dataclasses.field(default_factory=dict)


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.run_dir = args.run_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_files: dict[str, str] = {}
        self.moto_stopped: int | None = None
        self.load: Load | None = None
        self.faults: list[Fault] = []
        self.rss: list[tuple[float, str, int]] = []  # (seconds from the traffic's start, process, KiB)
        self.sampling = threading.Event()
        self.traffic_seconds = 0.0
        self.drain_seconds: float | None = None
        self.started_wall = time.time()

    # Processes ------------------------------------------------------------------------------

    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Settings left in the environment play no part here, but for where the OCR models are.
        for key in list(env):
            if key.startswith("LEDGERLY__") and not key.startswith("LEDGERLY__EXTRACTOR__"):
                del env[key]
        return env

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        path = os.path.join(self.run_dir, f"{name}.log")
        with open(path, "ab") as stderr:
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, cwd=self.run_dir
            )
        self.processes[name] = process
        self.log_files[name] = path
        self.write_pids()
        return process

    def write_pids(self) -> None:
        """The pids of the processes this run started, for scripts/soak's trap should this
        program die without stopping them."""
        live = [str(p.pid) for p in self.processes.values() if p.poll() is None]
        with open(os.path.join(self.run_dir, "pids"), "w") as out:
            out.write("\n".join(live) + ("\n" if live else ""))

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            with open(self.log_files[name], errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def start_api(self) -> None:
        a = self.args
        env = self.base_env()
        env.update(
            {
                "LEDGERLY__DATABASE__URL": a.database_url,
                "LEDGERLY__SERVER__BIND": "127.0.0.1",
                "LEDGERLY__SERVER__PORT": str(a.port),
                "LEDGERLY__STORAGE__BACKEND": "s3",
                "LEDGERLY__STORAGE__BUCKET": a.bucket,
                "LEDGERLY__STORAGE__REGION": "us-east-1",
                "LEDGERLY__STORAGE__ENDPOINT": a.s3_endpoint,
                # Every request comes from 127.0.0.1, and a few accounts log in again and again.
                "LEDGERLY__AUTH__LOGIN_ATTEMPTS_PER_IP": "100000000",
                "LEDGERLY__AUTH__FAILED_LOGINS_PER_ACCOUNT": "100000000",
                "LEDGERLY__AUTH__REGISTRATION": "open",
                "RUST_LOG": "warn",
            }
        )
        log(f"starting the API on 127.0.0.1:{a.port} (log: {os.path.join(self.run_dir, 'api.log')})")
        process = self.spawn("api", [a.api_bin], env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"the API exited with {process.returncode}:\n{self.log_tail('api')}")
            answer = Connection(a.port).request("GET", "/readyz")
            if answer.status == 200:
                return
            time.sleep(0.2)
        raise SystemExit(f"the API was not ready in 60 s:\n{self.log_tail('api')}")

    def start_worker(self, name: str) -> float:
        """Starts an OCR worker called `name`; returns the seconds it took to say it started."""
        a = self.args
        command = [
            a.ocr_bin, "worker",
            "--database-url", a.database_url,
            "--storage-backend", "s3",
            "--bucket", a.bucket,
            "--region", "us-east-1",
            "--endpoint", a.s3_endpoint,
            "--backend", "paddle",
            "--lease-seconds", str(WORKER_LEASE_SECONDS),
            "--name", f"soak-{name}",
        ]  # fmt: skip
        env = self.base_env()
        env["RUST_LOG"] = "info"
        log(f"starting OCR {name} (log: {os.path.join(self.run_dir, name + '.log')})")
        began = time.monotonic()
        process = self.spawn(name, command, env)
        deadline = began + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"OCR {name} exited with {process.returncode}:\n{self.log_tail(name)}")
            with open(self.log_files[name], errors="replace") as f:
                if "OCR worker started" in f.read():
                    return time.monotonic() - began
            time.sleep(0.1)
        raise SystemExit(f"OCR {name} did not start in 60 s:\n{self.log_tail(name)}")

    def stop_processes(self) -> None:
        """SIGTERM to everything this run started, SIGKILL to what is still there after 25 s
        (a worker finishing a receipt gets its shutdown grace)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 25
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.write_pids()

    # Services -------------------------------------------------------------------------------

    def psql(self, sql: str, timeout: float = 30) -> str:
        result = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.args.database_url, "-c", sql],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def psql_rows(self, sql: str) -> list[dict[str, str]]:
        text = self.psql(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)", timeout=120)
        return list(csv.DictReader(io.StringIO(text)))

    def pg_ctl(self, *arguments: str) -> list[str]:
        """pg_ctl on the tests' cluster, as its owner (the postgres user when we are root), as
        scripts/lib/services.sh runs it."""
        a = self.args
        command = [a.pg_ctl, "-D", a.pg_data, *arguments]
        if a.pg_user:
            command = ["runuser", "-u", a.pg_user, "--", *command]
        return command

    def postgres_running(self) -> bool:
        return subprocess.run(self.pg_ctl("status"), capture_output=True, cwd="/").returncode == 0

    def ensure_postgres(self) -> None:
        if not self.postgres_running():
            log("PostgreSQL is down: starting it again")
            subprocess.run(
                self.pg_ctl("-l", self.args.pg_log, "-w", "-t", "60", "start"),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
            )

    def moto_pid(self) -> int:
        with open(self.args.moto_pid_file) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"moto_server" not in f.read():
                raise RuntimeError(f"process {pid} from {self.args.moto_pid_file} is not moto_server")
        return pid

    def resume_moto(self) -> None:
        if self.moto_stopped is not None:
            os.kill(self.moto_stopped, signal.SIGCONT)
            self.moto_stopped = None

    # RSS ------------------------------------------------------------------------------------

    def sample_rss(self) -> None:
        """Every second until told to stop: the RSS of the API and of each live worker; every
        15 s a line of progress."""
        next_progress = 15.0
        while not self.sampling.wait(1.0):
            now = self.load.now() if self.load else 0.0
            for name, process in list(self.processes.items()):
                if process.poll() is not None:
                    continue
                try:
                    with open(f"/proc/{process.pid}/status") as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                self.rss.append((now, name, int(line.split()[1])))
                except OSError:
                    pass
            if self.load and now >= next_progress and not self.load.stop.is_set():
                count = self.load.requests_so_far()
                log(f"{now:.0f} s: {count} requests ({count / now:.0f}/s)")
                next_progress += 15.0

    # Faults ---------------------------------------------------------------------------------

    def restart_postgres(self) -> Fault:
        log("fault: restarting PostgreSQL (pg_ctl -m fast restart)")
        started = self.load.now()
        with open(os.path.join(self.run_dir, "pg_ctl.log"), "ab") as out:
            result = subprocess.run(
                self.pg_ctl("-l", self.args.pg_log, "-w", "-t", "60", "-m", "fast", "restart"),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd="/",
                timeout=120,
            )
        fault = Fault("PostgreSQL restart", started, self.load.now())
        if result.returncode != 0:
            fault.notes.append(f"pg_ctl restart exited with {result.returncode} (see pg_ctl.log)")
        log(f"PostgreSQL restarted in {fault.lifted - fault.started:.2f} s")
        return fault

    def kill_worker_holding_a_job(self, deadline: float) -> Fault:
        """Waits (until `deadline`, seconds from the traffic's start) for worker-1 to hold a job,
        SIGKILLs it, then starts worker-2."""
        log("fault: waiting for OCR worker-1 to hold a job, to SIGKILL it")
        holder = "soak-worker-1"
        held_sql = f"SELECT count(*) FROM ocr_jobs WHERE state = 'running' AND claimed_by = '{holder}'"
        waited_from = self.load.now()
        while self.load.now() < deadline:
            try:
                if int(self.psql(held_sql) or 0) > 0:
                    break
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.2)
        worker = self.processes["worker-1"]
        worker.send_signal(signal.SIGKILL)
        killed = self.load.now()
        killed_wall = time.time()
        worker.wait()
        self.write_pids()
        # What it held when it died: a dead process changes nothing, so this is exact.
        held = self.psql_rows(
            "SELECT id, receipt_id, attempts FROM ocr_jobs "
            f"WHERE state = 'running' AND claimed_by = '{holder}' ORDER BY id"
        )
        log(f"killed worker-1 holding {len(held)} job(s) after {killed - waited_from:.1f} s of waiting")
        startup = self.start_worker("worker-2")
        fault = Fault("OCR worker SIGKILL", killed, self.load.now())
        fault.data = {"held": held, "killed_wall": killed_wall, "startup": startup}
        if not held:
            fault.notes.append("worker-1 held no job when it was killed (none claimed in time, or it finished first)")
        return fault

    def stop_object_store(self, seconds: float) -> Fault:
        pid = self.moto_pid()
        log(f"fault: SIGSTOP to the object store (moto, pid {pid}) for {seconds:.0f} s")
        os.kill(pid, signal.SIGSTOP)
        self.moto_stopped = pid
        started = self.load.now()
        time.sleep(seconds)
        self.resume_moto()
        fault = Fault("object store stopped", started, self.load.now())
        log("object store resumed (SIGCONT)")
        return fault

    # The run --------------------------------------------------------------------------------

    def register_users(self, count: int, tag: str) -> list[User]:
        connection = Connection(self.args.port)
        users = []
        for i in range(count):
            email = f"soak-{tag}-{i}@example.com"
            answer = connection.json(
                "POST",
                f"{API_PREFIX}/auth/register",
                {"email": email, "password": PASSWORD, "name": f"Soak {i}", "currency": "INR"},
            )
            body = answer.json()
            if answer.status != 201 or not isinstance(body, dict):
                raise SystemExit(f"registering {email} answered {answer.status}: {answer.body[:300]!r}")
            token = body["token"]
            categories = connection.request("GET", f"{API_PREFIX}/categories", token=token).json()
            users.append(User(email, body["user"]["id"], token, [c["id"] for c in categories]))
        return users

    def sleep_until(self, moment: float) -> None:
        while self.load.now() < moment:
            time.sleep(min(0.2, moment - self.load.now()))

    def drain_ocr_queue(self, limit: float) -> None:
        log(f"waiting (at most {limit:.0f} s) for the OCR queue to drain")
        began = time.monotonic()
        while time.monotonic() - began < limit:
            try:
                left = int(self.psql("SELECT count(*) FROM ocr_jobs WHERE state IN ('queued', 'running')") or 0)
            except (RuntimeError, subprocess.TimeoutExpired):
                left = -1
            if left == 0:
                self.drain_seconds = time.monotonic() - began
                log(f"OCR queue drained in {self.drain_seconds:.1f} s")
                return
            time.sleep(2)
        log("the OCR queue did not drain in time")

    def wait_for_late_deletes(self) -> None:
        """An upload refused on a storage timeout may still be written once the store answers;
        the API deletes its key again 15 s after the refusal (then 1 and 5 minutes later). The
        bucket is checked only once the first of those deletes has run for every refusal."""
        refused_at = [
            end
            for record in self.load.records
            for (_, end, kind, status, _) in record.samples
            if kind == UPLOAD_RECEIPT and status == 503
        ]
        if not refused_at:
            return
        until = max(refused_at) + LATE_DELETE_SECONDS + 3
        if self.load.now() < until:
            log(f"waiting {until - self.load.now():.0f} s for the API to delete refused uploads' keys again")
            self.sleep_until(until)

    def run(self) -> int:
        a = self.args
        tag = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
        self.start_api()
        self.start_worker("worker-1")
        log(f"registering {a.users} users")
        users = self.register_users(a.users, tag)
        self.load = Load(a.port, users, a.connections, a.uploads_per_second, tag)
        sampler = threading.Thread(target=self.sample_rss, name="rss", daemon=True)
        log(f"traffic: {a.connections} connections for {a.duration:.0f} s")
        self.load.start()
        sampler.start()

        # The faults, at fixed fractions of the run with quiet time between them.
        d = a.duration
        self.sleep_until(0.20 * d)
        self.faults.append(self.restart_postgres())
        self.sleep_until(0.45 * d)
        self.faults.append(self.kill_worker_holding_a_job(deadline=0.62 * d))
        self.sleep_until(max(0.70 * d, self.load.now() + 3))
        self.faults.append(self.stop_object_store(a.store_stop_seconds))
        self.sleep_until(d)

        log("traffic done; waiting for requests in flight")
        self.load.finish()
        self.traffic_seconds = self.load.now()
        self.drain_ocr_queue(a.drain_seconds)
        self.wait_for_late_deletes()
        self.sampling.set()
        sampler.join()
        alive = {name: process.poll() is None for name, process in self.processes.items()}
        report = Report(self, alive)
        text = report.render()
        with open(os.path.join(self.run_dir, "report.md"), "w") as out:
            out.write(text)
        self.save_raw()
        print(text, flush=True)
        return 0 if report.passed else 1

    def save_raw(self) -> None:
        with open(os.path.join(self.run_dir, "requests.csv"), "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["start_s", "end_s", "kind", "status", "detail"])
            for record in self.load.records:
                for start, end, kind, status, detail in record.samples:
                    writer.writerow([f"{start:.4f}", f"{end:.4f}", kind, status, detail])
        with open(os.path.join(self.run_dir, "rss.csv"), "w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["t_s", "process", "rss_kib"])
            for t, name, kib in self.rss:
                writer.writerow([f"{t:.1f}", name, kib])

    def clean_up(self) -> None:
        """Whatever happened: the object store running, PostgreSQL running, our processes gone."""
        try:
            self.resume_moto()
        except OSError:
            pass
        self.sampling.set()
        if self.load is not None:
            self.load.stop.set()
        self.stop_processes()
        self.ensure_postgres()
        try:
            os.remove(os.path.join(self.run_dir, "pids"))
        except OSError:
            pass


# ----------------------------------------------------------------------------------------------
# Verification and the report


@dataclasses.dataclass
class Check:
    name: str
    passed: bool
    detail: str


def percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def by_status(statuses) -> str:
    counts = collections.Counter(statuses)
    return ", ".join(f"{status or 'no answer'}: {n}" for status, n in sorted(counts.items())) or "none"


def ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:.1f}"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f}"


def list_bucket(endpoint: str, bucket: str, page_size: int = 1000) -> dict[str, tuple[int, str]]:
    """Every object under receipts/ with its size and ETag (the emulator's is the MD5 of the
    content), by the S3 REST API (ListObjectsV2, paged)."""
    namespace = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
    objects: dict[str, tuple[int, str]] = {}
    token = None
    while True:
        query = {"list-type": "2", "prefix": "receipts/", "max-keys": str(page_size)}
        if token:
            query["continuation-token"] = token
        url = f"{endpoint}/{bucket}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=60) as response:
            root = ET.fromstring(response.read())
        for item in root.findall("s3:Contents", namespace):
            objects[item.findtext("s3:Key", "", namespace)] = (
                int(item.findtext("s3:Size", "0", namespace)),
                item.findtext("s3:ETag", "", namespace).strip('"'),
            )
        if root.findtext("s3:IsTruncated", "false", namespace) != "true":
            return objects
        token = root.findtext("s3:NextContinuationToken", None, namespace)


def log_summary(path: str, levels: tuple[str, ...] = ("ERROR", "WARN")) -> list[str]:
    """The log's lines at `levels`, counted by message and error (JSON lines, as the binaries
    write them when not on a terminal)."""
    counts: collections.Counter = collections.Counter()
    try:
        with open(path, errors="replace") as f:
            for line in f:
                try:
                    event = json.loads(line)
                except ValueError:
                    if line.strip():
                        counts[("TEXT", line.strip()[:200])] += 1
                    continue
                level = str(event.get("level", ""))
                if level not in levels:
                    continue
                what = str(event.get("message") or f"({event.get('target', '')})")
                if event.get("error"):
                    what += f" — {str(event['error'])[:240]}"
                counts[(level, what)] += 1
    except OSError:
        return []
    return [f"{n}× {level} {what}" for (level, what), n in counts.most_common(8)]


class Report:
    def __init__(self, soak: Soak, alive: dict[str, bool]):
        self.soak = soak
        self.alive = alive
        self.checks: list[Check] = []
        self.samples = sorted(
            (s for record in soak.load.records for s in record.samples), key=lambda s: s[0]
        )
        self.expenses = {k: v for r in soak.load.records for k, v in r.expenses.items()}
        self.receipts = {k: v for r in soak.load.records for k, v in r.receipts.items()}
        self.refused_creates = [x for r in soak.load.records for x in r.refused_creates]
        self.refused_uploads = [x for r in soak.load.records for x in r.refused_uploads]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def check(self, name: str, passed: bool, detail: str) -> None:
        self.checks.append(Check(name, passed, detail))

    def overlapping(self, start: float, end: float, kinds=None):
        return [s for s in self.samples if s[0] <= end and s[1] >= start and (kinds is None or s[2] in kinds)]

    def first_success_after(self, moment: float, kinds) -> tuple | None:
        """The first request of `kinds` sent at or after `moment` and answered 2xx, by when it
        was answered."""
        answered = [s for s in self.samples if s[0] >= moment and s[2] in kinds and 200 <= s[3] < 300]
        return min(answered, key=lambda s: s[1]) if answered else None

    def render(self) -> str:
        a = self.soak.args
        out: list[str] = []
        w = out.append
        total = len(self.samples)
        seconds = self.soak.traffic_seconds
        w("## Soak with faults: `scripts/soak`")
        w("")
        w(
            f"Command: `{a.command}` ({os.cpu_count()} cores; the load generator, the API, the OCR "
            "workers, PostgreSQL and the AWS emulator share them). Run of "
            f"{datetime.fromtimestamp(self.soak.started_wall).strftime('%Y-%m-%d %H:%M')}: "
            f"{seconds:.0f} s of traffic at {a.connections} connections (one Python thread and "
            f"keep-alive connection each), {a.users} users, uploads paced at {a.uploads_per_second:g}/s; "
            f"OCR worker with the paddle engine, 2 receipts at a time, {WORKER_LEASE_SECONDS} s lease."
        )
        w("")
        w(f"Requests: {total} in {seconds:.1f} s = {total / seconds:.1f}/s.")
        w("")
        self.render_kinds(w)
        self.render_faults(w)
        self.render_rss(w)
        self.verify(w)
        self.render_logs(w)
        self.judge_answers()
        w("### Checks")
        w("")
        for check in self.checks:
            w(f"- **{'PASS' if check.passed else 'FAIL'}** {check.name}: {check.detail}")
        w("")
        w(f"Result: **{'passed' if self.passed else 'FAILED'}**. Logs and raw data: `{self.soak.run_dir}`.")
        return "\n".join(out) + "\n"

    def render_kinds(self, w) -> None:
        w("| request | count | answers by status | p50 ms | p95 ms | p99 ms | max ms |")
        w("|---|---|---|---|---|---|---|")
        for kind in KINDS:
            mine = [s for s in self.samples if s[2] == kind]
            latencies = sorted(s[1] - s[0] for s in mine)
            w(
                f"| {kind} | {len(mine)} | {by_status(s[3] for s in mine)} | {ms(percentile(latencies, 50))} "
                f"| {ms(percentile(latencies, 95))} | {ms(percentile(latencies, 99))} "
                f"| {ms(latencies[-1] if latencies else math.nan)} |"
            )
        w("")
        w("Latency is measured by the client, Python threads under one interpreter lock on a machine "
          "the server shares: it includes the client's own queueing.")
        w("")

    def render_faults(self, w) -> None:
        w("### Faults")
        w("")
        w("| fault | at (s) | lifted (s) | answers while it lasted, all requests | writes | recovery |")
        w("|---|---|---|---|---|---|")
        details: list[str] = []
        for fault in self.soak.faults:
            if fault.name == "PostgreSQL restart":
                first = self.first_success_after(fault.lifted, WRITES)
                recovery = first[1] - fault.lifted if first else math.inf
                end = first[1] if first else fault.lifted + 10
                shown = (
                    f"{recovery:.2f} s from pg_ctl's return to the first 2xx write sent after it "
                    f"({end - fault.started:.2f} s from the fault's start)"
                    if first else "no 2xx write after it"
                )
                self.check(
                    "PostgreSQL restart: recovery within 5 s",
                    recovery <= RECOVERY_LIMIT_SECONDS,
                    shown,
                )
                details.append(
                    f"- PostgreSQL restart: `pg_ctl -m fast restart` took {fault.lifted - fault.started:.2f} s."
                )
            elif fault.name == "OCR worker SIGKILL":
                end = fault.lifted
                shown = self.takeover(fault, details)
            else:
                first = self.first_success_after(fault.lifted, {UPLOAD_RECEIPT})
                recovery = first[1] - fault.lifted if first else math.inf
                end = fault.lifted
                shown = (
                    f"{recovery:.2f} s from SIGCONT to the first 2xx upload sent after it"
                    if first else "no 2xx upload after it"
                )
                self.check("object store stopped: uploads recover within 5 s", recovery <= RECOVERY_LIMIT_SECONDS, shown)
                uploads = self.overlapping(fault.started, fault.lifted, {UPLOAD_RECEIPT})
                longest = max((s[1] - s[0] for s in uploads), default=0.0)
                sent_during = [s for s in uploads if s[0] >= fault.started]
                answered_503 = sum(1 for s in sent_during if s[3] == 503)
                waited = sum(1 for s in sent_during if 200 <= s[3] < 300 and s[1] >= fault.lifted)
                details.append(
                    f"- Object store stopped {fault.lifted - fault.started:.1f} s: {len(uploads)} upload(s) in "
                    f"flight or sent while it was stopped ({by_status(s[3] for s in uploads)}); "
                    f"{len(sent_during)} sent during it; the longest took {longest:.2f} s."
                )
                # Reported, not judged: the checks are about wrong answers and lost data, and an
                # upload that waits for the store and then succeeds is neither.
                details.append(
                    f"  - Expected: uploads answered 503 at once while the store is stopped. Seen: "
                    f"{answered_503} of the {len(sent_during)} sent during it answered 503, {waited} waited "
                    f"for the store and were answered 2xx after SIGCONT"
                    + (" — expectation met." if sent_during and answered_503 == len(sent_during) else
                       " — expectation not met (reported, not a failed check).")
                )
            window = self.overlapping(fault.started, end)
            writes = [s for s in window if s[2] in WRITES]
            w(
                f"| {fault.name} | {fault.started:.1f} | {fault.lifted:.1f} | {by_status(s[3] for s in window)} "
                f"| {by_status(s[3] for s in writes)} | {shown} |"
            )
            details.extend(f"  - {note}" for note in fault.notes)
        w("")
        w("The answers counted for a fault are the requests in flight at any moment from its start to "
          "its recovery (PostgreSQL: the first 2xx write after pg_ctl returned; the worker: the second "
          "worker started; the object store: SIGCONT).")
        w("")
        for line in details:
            w(line)
        w("")

    def takeover(self, fault: Fault, details: list[str]) -> str:
        """The jobs the killed worker held: how they ended and when (their last update)."""
        held = fault.data.get("held", [])
        details.append(
            f"- OCR worker SIGKILL: worker-1 killed holding {len(held)} job(s); worker-2 said it "
            f"started {fault.data.get('startup', 0):.1f} s later."
        )
        self.check("OCR worker SIGKILL: killed while holding a job", bool(held),
                   f"{len(held)} job(s) held at the kill")
        if not held:
            return "no job held"
        ids = ",".join(f"'{job['id']}'" for job in held)
        rows = self.soak.psql_rows(
            f"SELECT id, state, attempts, extract(epoch FROM updated_at) AS updated FROM ocr_jobs WHERE id IN ({ids})"
        )
        ends = []
        for row in rows:
            after = float(row["updated"]) - fault.data["killed_wall"]
            ends.append(after)
            details.append(
                f"  - job {row['id']}: {row['state']} after {row['attempts']} attempt(s), "
                f"last updated {after:.1f} s after the kill"
            )
        finished = all(row["state"] in ("done", "failed") for row in rows) and len(rows) == len(held)
        self.check("OCR worker SIGKILL: the jobs it held were taken over and finished", finished,
                   ", ".join(f"{row['state']} (attempts {row['attempts']})" for row in rows))
        return f"held job(s) finished {max(ends):.1f} s after the kill" if ends else "—"

    def render_rss(self, w) -> None:
        rss = self.soak.rss
        names = [name for name in self.soak.processes if any(r[1] == name for r in rss)]
        w("### Memory (RSS, MiB)")
        w("")
        w("| process | min | peak | end |")
        w("|---|---|---|---|")
        for name in names:
            values = [r for r in rss if r[1] == name]
            w(f"| {name} | {mib(min(v[2] for v in values))} | {mib(max(v[2] for v in values))} | {mib(values[-1][2])} |")
        w("")
        header = "| s | " + " | ".join(names) + " |"
        w(header)
        w("|---" * (len(names) + 1) + "|")
        last = max((r[0] for r in rss), default=0.0)
        moment = 0.0
        while moment <= last + 1e-9:
            cells = []
            for name in names:
                before = [r[2] for r in rss if r[1] == name and r[0] <= moment + 1.5]
                cells.append(mib(before[-1]) if before and self.was_alive(name, moment) else "—")
            w(f"| {moment:.0f} | " + " | ".join(cells) + " |")
            moment += 30.0
        w("")
        w(f"Sampled every second from /proc/<pid>/status (VmRSS); traffic ended at {self.soak.traffic_seconds:.0f} s, "
          f"then the OCR queue drained"
          + (f" in {self.soak.drain_seconds:.0f} s." if self.soak.drain_seconds is not None else " (it did not, in time)."))
        w("")

    def was_alive(self, name: str, moment: float) -> bool:
        times = [r[0] for r in self.soak.rss if r[1] == name]
        return bool(times) and times[0] - 1.5 <= moment <= times[-1] + 1.5

    def verify(self, w) -> None:
        soak = self.soak
        expenses = {
            row["id"]: row
            for row in soak.psql_rows(
                "SELECT id, user_id, category_id, spent_on, vendor, amount_minor, currency, note, "
                "receipt_id, (created_at = updated_at) AS untouched FROM expenses"
            )
        }
        receipts = {
            row["id"]: row
            for row in soak.psql_rows("SELECT id, user_id, object_key, size_bytes, sha256, status FROM receipts")
        }
        jobs = {
            row["receipt_id"]: row
            for row in soak.psql_rows("SELECT id, receipt_id, state, attempts, max_attempts FROM ocr_jobs")
        }
        objects = list_bucket(soak.args.s3_endpoint, soak.args.bucket)

        # Every expense answered 2xx, as last sent.
        missing, different, changed, uncertain = [], [], 0, 0
        for expected in self.expenses.values():
            row = expenses.get(expected.id)
            if row is None:
                missing.append(expected.id)
                continue
            found = {
                "date": row["spent_on"],
                "category_id": row["category_id"],
                "vendor": row["vendor"],
                "amount_minor": int(row["amount_minor"]),
                "note": row["note"],
            }
            changed += expected.changes > 0
            uncertain += len(expected.states) > 1
            if row["user_id"] != expected.user_id or row["currency"] != "INR" or found not in expected.states:
                different.append(f"{expected.id}: found {found}, sent {expected.states}")
        self.check(
            "every expense write answered 2xx is in the database as sent",
            not missing and not different,
            f"{len(self.expenses)} created (2xx), {changed} of them changed by a 2xx PATCH, "
            f"{uncertain} with a change of uncertain outcome (either state accepted); "
            f"{len(missing)} missing, {len(different)} different"
            + (f" (first: {(missing + different)[0]})" if missing or different else ""),
        )

        # Every receipt answered 2xx, with its file.
        missing_rows, wrong_rows, missing_files = [], [], []
        for expected in self.receipts.values():
            row = receipts.get(expected.id)
            if row is None:
                missing_rows.append(expected.id)
                continue
            if (row["sha256"], int(row["size_bytes"]), row["object_key"], row["user_id"]) != (
                expected.sha256, expected.size, expected.object_key, expected.user_id
            ):
                wrong_rows.append(expected.id)
            if objects.get(expected.object_key, (None, ""))[0] != expected.size:
                missing_files.append(expected.object_key)
        self.check(
            "every upload answered 2xx has its row and its file",
            not (missing_rows or wrong_rows or missing_files),
            f"{len(self.receipts)} uploads answered 2xx; {len(missing_rows)} rows missing, "
            f"{len(wrong_rows)} rows not as sent, {len(missing_files)} files missing or of another size",
        )

        # Nothing half-written: rows and objects match one to one.
        row_keys = {row["object_key"]: int(row["size_bytes"]) for row in receipts.values()}
        without_file = sorted(key for key in row_keys if key not in objects)
        without_row = sorted(key for key in objects if key not in row_keys)
        wrong_size = sorted(key for key in row_keys if key in objects and objects[key][0] != row_keys[key])
        self.check(
            "no half-written upload",
            not (without_file or without_row or wrong_size),
            f"{len(receipts)} receipt rows, {len(objects)} objects under receipts/; "
            f"{len(without_file)} rows without their file, {len(without_row)} files without a row, "
            f"{len(wrong_size)} of another size"
            + (f" (first: {(without_file + without_row + wrong_size)[0]})" if without_file or without_row or wrong_size else ""),
        )

        # Which uploads the files without a row came from: their MD5 against the uploads answered
        # with an error (each upload's file is unique).
        refused_by_md5 = {md5: f"answered {status or 'nothing'}" for _, md5, status in self.refused_uploads}
        orphan_sources = collections.Counter(
            refused_by_md5.get(objects[key][1], "not one of the uploads answered with an error") for key in without_row
        )

        # OCR finished every receipt.
        statuses = collections.Counter(row["status"] for row in receipts.values())
        unfinished = [rid for rid, row in receipts.items() if row["status"] not in ("done", "failed")]
        self.check(
            "every receipt reached done or failed",
            not unfinished,
            f"receipts by status: {dict(sorted(statuses.items()))}",
        )

        # No job lost or done twice. A job completed twice would show as a second expense for its
        # receipt (the schema forbids it) or as the first one refreshed (updated_at moved past
        # created_at: completing a job again rewrites its receipt's unreviewed expense); the load
        # never changes an expense OCR made.
        ocr_expenses = collections.defaultdict(list)
        for row in expenses.values():
            if row["receipt_id"]:
                ocr_expenses[row["receipt_id"]].append(row)
        twice = [rid for rid, rows in ocr_expenses.items() if len(rows) > 1]
        refreshed = [rid for rid, rows in ocr_expenses.items() if any(r["untouched"] != "t" for r in rows)]
        without_job = [rid for rid in receipts if rid not in jobs]
        inconsistent = [
            rid for rid, row in receipts.items()
            if rid in jobs and (
                (row["status"] == "done") != (jobs[rid]["state"] == "done")
                or (row["status"] == "done") != (len(ocr_expenses.get(rid, [])) == 1)
            )
        ]
        over = [rid for rid, job in jobs.items() if int(job["attempts"]) > int(job["max_attempts"])]
        attempts = collections.Counter(int(job["attempts"]) for job in jobs.values())
        self.check(
            "no OCR job lost or done twice",
            not (twice or refreshed or without_job or inconsistent or over),
            f"{len(jobs)} jobs (by attempts: {dict(sorted(attempts.items()))}), {len(ocr_expenses)} expenses made by OCR; "
            f"{len(twice)} receipts with two expenses, {len(refreshed)} OCR expenses rewritten after creation, "
            f"{len(without_job)} receipts without a job, {len(inconsistent)} where receipt, job and expense "
            f"disagree, {len(over)} jobs over their attempts",
        )

        # Writes answered with an error but written all the same (informational: without an
        # answer, or with a 5xx, a write's outcome is not known to the client).
        notes = {row["note"] for row in expenses.values()}
        shas = {row["sha256"] for row in receipts.values()}
        written_creates = collections.Counter(status for note, status in self.refused_creates if note in notes)
        written_uploads = collections.Counter(status for sha, _, status in self.refused_uploads if sha in shas)
        w("### Verified after the run")
        w("")
        w(f"- Expenses: {len(self.expenses)} creations answered 2xx, all looked up by id "
          f"({len(expenses)} expense rows in all, OCR's included).")
        w(f"- Receipts: {len(self.receipts)} uploads answered 2xx, looked up by id; {len(receipts)} receipt rows, "
          f"{len(objects)} objects under `receipts/` in the bucket (listed with ListObjectsV2).")
        if without_row:
            w(f"- Files without a row: {len(without_row)}; by the answer their upload got (matched by MD5): "
              + ", ".join(f"{source}: {n}" for source, n in orphan_sources.most_common()) + ".")
        w(f"- OCR: receipts by status {dict(sorted(statuses.items()))}; jobs by attempts {dict(sorted(attempts.items()))}.")
        w(f"- Writes answered with an error: {len(self.refused_creates)} expense creations "
          f"({by_status(s for _, s in self.refused_creates)}), of which written all the same: "
          f"{by_status(written_creates.elements()) if written_creates else 'none'}; {len(self.refused_uploads)} uploads "
          f"({by_status(s for _, _, s in self.refused_uploads)}), with a receipt row all the same: "
          f"{by_status(written_uploads.elements()) if written_uploads else 'none'}.")
        w("")

    def during(self, moment: float) -> str:
        """The fault `moment` (seconds from the traffic's start) fell in or just after, if any."""
        for fault in self.soak.faults:
            if fault.started - 1 <= moment <= fault.lifted + 5:
                return f" (during the {fault.name}, {fault.started:.1f}–{fault.lifted:.1f} s)"
        return ""

    def first_answers(self, wanted, limit: int = 6) -> str:
        picked = [s for s in self.samples if wanted(s[3])][:limit]
        return "; ".join(f"{s[0]:.1f} s {s[2]} {s[3]}{self.during(s[0])}" for s in picked)

    def judge_answers(self) -> None:
        statuses = collections.Counter(s[3] for s in self.samples)
        server_errors = {status: n for status, n in statuses.items() if status >= 500 and status != 503}
        self.check(
            "no 5xx other than 503",
            not server_errors,
            (f"{sum(server_errors.values())} ({by_status(collections.Counter(server_errors).elements())}); "
             f"first: {self.first_answers(lambda st: st >= 500 and st != 503)}") if server_errors else "none",
        )
        # Every request the load sends is valid and allowed (the login limits are lifted): a 4xx
        # is a server fault answered as the client's, which a client would show its user as such.
        refused = {status: n for status, n in statuses.items() if 400 <= status < 500}
        self.check(
            "no valid request refused with a 4xx",
            not refused,
            (f"{sum(refused.values())} ({by_status(collections.Counter(refused).elements())}); "
             f"first: {self.first_answers(lambda st: 400 <= st < 500)}") if refused else "none",
        )
        no_message = sum(1 for s in self.samples if s[3] == 503 and "no message" in s[4])
        no_retry = sum(1 for s in self.samples if s[3] == 503 and "no Retry-After" in s[4])
        self.check(
            "every 503 carried a JSON error message",
            no_message == 0,
            f"{statuses.get(503, 0)} answers 503, {no_message} without a message "
            f"({no_retry} without Retry-After, reported only)",
        )
        unanswered = [s for s in self.samples if s[3] == 0]
        self.check(
            "every request was answered",
            not unanswered,
            "all answered" if not unanswered else
            f"{len(unanswered)} without an answer; first: {unanswered[0][0]:.1f} s {unanswered[0][2]}: {unanswered[0][4]}",
        )
        dead = [name for name, alive in self.alive.items() if not alive and name != "worker-1"]
        self.check(
            "the API and the second worker ran to the end",
            not dead,
            "both running" if not dead else f"exited: {', '.join(dead)}",
        )

    def render_logs(self, w) -> None:
        w("### Logs")
        w("")
        for name, path in self.soak.log_files.items():
            lines = log_summary(path)
            w(f"- `{path}`: " + ("no warnings or errors" if not lines else f"{len(lines)} kind(s) of warning or error:"))
            for line in lines:
                w(f"  - {line}")
        examples = self.soak.load.examples
        if examples:
            w(f"- Bodies of the answers that should not have been (4xx, 5xx other than 503, 503 without a "
              f"message; first {min(len(examples), 8)} of {len(examples)} kept):")
            for started, kind, status, text in examples[:8]:
                w(f"  - {started:.1f} s{self.during(started)} {kind} {status}: `{text}`")
        w("")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True, help="where the logs, raw data and report go")
    parser.add_argument("--command", required=True, help="the command line, for the report")
    parser.add_argument("--duration", type=float, required=True, help="seconds of traffic")
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--uploads-per-second", type=float, required=True)
    parser.add_argument("--store-stop-seconds", type=float, default=10.0, help="how long the object store stays stopped")
    parser.add_argument("--drain-seconds", type=float, default=180.0)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--api-bin", required=True)
    parser.add_argument("--ocr-bin", required=True)
    parser.add_argument("--pg-ctl", required=True, help="the pg_ctl of the tests' cluster")
    parser.add_argument("--pg-data", required=True)
    parser.add_argument("--pg-log", required=True)
    parser.add_argument("--pg-user", default="", help="the cluster's owner, when not this user")
    parser.add_argument("--moto-pid-file", required=True)
    args = parser.parse_args()
    if args.duration < 30:
        parser.error("--duration must be at least 30 s: the faults need room")
    if 0.70 * args.duration + args.store_stop_seconds > 0.95 * args.duration:
        parser.error("the object store's stop must end before the traffic does: a longer --duration, or a shorter stop")
    os.makedirs(args.run_dir, exist_ok=True)
    # SIGTERM ends the run like Ctrl-C does: through clean_up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soak = Soak(args)
    try:
        return soak.run()
    finally:
        soak.clean_up()


if __name__ == "__main__":
    sys.exit(main())
