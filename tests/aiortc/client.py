"""aiortc as the offering peer of the echo server (examples/echo_server.rs), driven by tests/aiortc.rs.

Does what the echo server's test page (examples/echo_server/page.html) does in a browser: offers four data
channels (ordered reliable, unordered, maxRetransmits 0, negotiated id 7), POSTs the offer to /offer,
checks that messages of 0 B, 1 B, 1 KiB, 16 KiB, 64 KiB and 256 KiB come back byte for byte as strings and
as binary on each channel, then sends 32 MiB in 64 KiB messages on the reliable channel with
bufferedAmount flow control (high water 4 MiB, low water 1 MiB) and checks every echoed byte.

Prints one JSON report on stdout: {"ok", "checks": [{"name", "pass", "ms", "detail"}], "errors",
"timings", "lost"} ("lost": messages on the maxRetransmits 0 channel sent again because no echo came). Exits 0 when every check passed, 1 otherwise. Host candidates are on 127.0.0.1 only.

usage: client.py URL   (URL of the echo server's HTTP endpoint, e.g. http://127.0.0.1:8080/)
"""

import asyncio
import json
import random
import sys
import time
import traceback
import urllib.request

import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription

# Loopback only: aioice gathers every interface's address but 127.0.0.1 by default.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"] if use_ipv4 else []

SIZES = [0, 1, 1024, 16 * 1024, 64 * 1024, 256 * 1024]
BULK_TOTAL = 32 * 1024 * 1024
BULK_CHUNK = 64 * 1024
HIGH = 4 * 1024 * 1024
LOW = 1024 * 1024
STEP_TIMEOUT = 20.0
# The maxRetransmits 0 channel: how long to wait for an echo before sending the message again, how many sends.
LOSSY_WAIT = 3.0
LOSSY_ATTEMPTS = 3
# After the last bulk message is handed to the channel, all echoes must be back within this.
BULK_ECHO_TIMEOUT = 60.0

T0 = time.monotonic()
report = {"ok": False, "checks": [], "errors": [], "timings": {}, "lost": 0}


def ms_since(start):
    return round((time.monotonic() - start) * 1000)


def log(msg):
    print(f"[{ms_since(T0)} ms] {msg}", file=sys.stderr, flush=True)


def check(name, ok, start, detail=""):
    report["checks"].append({"name": name, "pass": bool(ok), "ms": ms_since(start), "detail": detail})
    if not ok:
        log(f"FAIL {name}: {detail}")


def payload(n, seed):
    return random.Random(seed).randbytes(n)


def text(n, seed):
    # ASCII only, so n characters are n bytes on the wire.
    return bytes(32 + b % 95 for b in payload(n, seed)).decode("ascii")


class Inbox:
    """The messages a channel received, to await one at a time, or a sink taking each as it comes."""

    def __init__(self, channel):
        self.queue = asyncio.Queue()
        self.sink = None
        channel.on("message", self.on_message)

    def on_message(self, data):
        if self.sink is not None:
            self.sink(data)
        else:
            self.queue.put_nowait(data)


async def echo_checks(channel, inbox):
    # A message on the maxRetransmits 0 channel may be lost (a datagram dropped on a busy machine is not sent
    # again): there, a message whose echo does not come is sent again, up to LOSSY_ATTEMPTS times in all,
    # and late echoes of earlier checks are skipped. Every echo that comes must be exact on every channel.
    lossy = channel.maxRetransmits == 0
    attempts = LOSSY_ATTEMPTS if lossy else 1
    wait = LOSSY_WAIT if lossy else STEP_TIMEOUT
    earlier = []
    seed = 1
    for size in SIZES:
        for kind in ("string", "binary"):
            name = f"{channel.label}/{kind}/{size}"
            start = time.monotonic()
            sent = text(size, seed) if kind == "string" else payload(size, seed)
            seed += 1
            got, lost = None, 0
            for _ in range(attempts):
                channel.send(sent)
                try:
                    while True:
                        got = await asyncio.wait_for(inbox.queue.get(), wait)
                        if not (lossy and got != sent and got in earlier):
                            break
                    break
                except asyncio.TimeoutError:
                    lost += 1
            earlier.append(sent)
            if lost == attempts:
                check(name, False, start, f"no echo within {wait} s, {attempts} times")
                return
            if kind == "string":
                ok = isinstance(got, str) and got == sent
                detail = "" if ok else (f"string of {len(got)} differs" if isinstance(got, str) else f"got {type(got).__name__}")
            else:
                ok = isinstance(got, bytes) and got == sent
                detail = "" if ok else (f"{len(got)} bytes differ" if isinstance(got, bytes) else f"got {type(got).__name__}")
            if ok and lost:
                detail = f"sent {lost + 1} times: {lost} lost (maxRetransmits 0)"
                report["lost"] += lost
            check(name, ok, start, detail)


async def bulk(channel, inbox):
    name = f"{channel.label}/bulk/{BULK_TOTAL}"
    start = time.monotonic()
    chunks = BULK_TOTAL // BULK_CHUNK
    pattern = payload(BULK_CHUNK + 256, 12345)

    def chunk_at(i):
        return (i & 0xFFFF).to_bytes(2, "little") + pattern[i % 256 + 2 : i % 256 + BULK_CHUNK]

    state = {"received": 0, "bytes": 0, "bad": "", "last": time.monotonic()}
    done = asyncio.get_running_loop().create_future()

    def sink(data):
        n = state["received"]
        if not isinstance(data, bytes):
            state["bad"] = state["bad"] or f"chunk {n}: not binary"
        elif not state["bad"] and data != chunk_at(n):
            state["bad"] = f"chunk {n} ({len(data)} bytes) differs"
        state["received"] = n + 1
        state["bytes"] += len(data) if isinstance(data, (bytes, str)) else 0
        state["last"] = time.monotonic()
        if state["received"] == chunks and not done.done():
            done.set_result(None)

    inbox.sink = sink
    channel.bufferedAmountLowThreshold = LOW
    low = asyncio.Event()
    channel.on("bufferedamountlow", low.set)
    sent = waits = 0

    def progress():
        idle = time.monotonic() - state["last"]
        return (
            f"{sent}/{chunks} sent, {state['received']}/{chunks} back ({state['bytes']} bytes), "
            f"bufferedAmount {channel.bufferedAmount}, nothing back for {idle:.1f} s"
        )

    try:
        while sent < chunks:
            if channel.bufferedAmount > HIGH:
                waits += 1
                low.clear()
                try:
                    await asyncio.wait_for(low.wait(), STEP_TIMEOUT)
                except asyncio.TimeoutError:
                    check(name, False, start, f"no bufferedamountlow within {STEP_TIMEOUT} s: {progress()}")
                    return
            channel.send(chunk_at(sent))
            sent += 1
        try:
            await asyncio.wait_for(asyncio.shield(done), BULK_ECHO_TIMEOUT)
        except asyncio.TimeoutError:
            check(name, False, start, f"bulk echo incomplete after {BULK_ECHO_TIMEOUT} s: {progress()}")
            return
        secs = time.monotonic() - start
        report["timings"]["bulk_ms"] = round(secs * 1000)
        report["timings"]["bulk_mib_s"] = round(BULK_TOTAL / 1048576 / secs, 1)
        ok = not state["bad"] and state["bytes"] == BULK_TOTAL
        detail = state["bad"] or (
            f"{state['bytes']} bytes back, {waits} flow-control waits, "
            f"{BULK_TOTAL / 1048576 / secs:.1f} MiB/s each way"
        )
        check(name, ok, start, detail)
    finally:
        inbox.sink = None
        channel.remove_listener("bufferedamountlow", low.set)


def post_offer(url, sdp):
    req = urllib.request.Request(
        url.rstrip("/") + "/offer", data=sdp.encode(), method="POST", headers={"Content-Type": "application/sdp"}
    )
    with urllib.request.urlopen(req, timeout=STEP_TIMEOUT) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()


async def main(url):
    pc = RTCPeerConnection()
    pc.on("iceconnectionstatechange", lambda: log(f"ice: {pc.iceConnectionState}"))
    pc.on("connectionstatechange", lambda: log(f"connection: {pc.connectionState}"))
    channels = [
        pc.createDataChannel("reliable"),
        pc.createDataChannel("unordered", ordered=False),
        pc.createDataChannel("maxRetransmits0", maxRetransmits=0),
        pc.createDataChannel("negotiated", negotiated=True, id=7),
    ]
    inboxes = [Inbox(c) for c in channels]
    opened = []
    for c in channels:
        fut = asyncio.get_running_loop().create_future()
        c.on("open", lambda fut=fut: fut.done() or fut.set_result(None))
        opened.append(fut)
    try:
        start = time.monotonic()
        # aiortc gathers during setLocalDescription: the offer carries every candidate.
        await pc.setLocalDescription(await pc.createOffer())
        report["timings"]["gathering_ms"] = ms_since(start)
        start = time.monotonic()
        status, ctype, answer = await asyncio.to_thread(post_offer, url, pc.localDescription.sdp)
        check("signalling/201", status == 201, start, f"HTTP {status}")
        check("signalling/content-type", ctype.startswith("application/sdp"), start, ctype)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        check("signalling/setRemoteDescription", True, start)
        start = time.monotonic()
        pending = [f for c, f in zip(channels, opened) if c.readyState != "open"]
        try:
            await asyncio.wait_for(asyncio.gather(*pending), STEP_TIMEOUT)
        except asyncio.TimeoutError:
            states = " ".join(f"{c.label}={c.readyState}" for c in channels)
            check("channels/open", False, start, f"not open within {STEP_TIMEOUT} s: {states}")
            return
        report["timings"]["open_ms"] = ms_since(start)
        check("channels/open", True, start, " ".join(f"{c.label}#{c.id}" for c in channels))
        for c, inbox in zip(channels, inboxes):
            await echo_checks(c, inbox)
        await bulk(channels[0], inboxes[0])
    finally:
        await pc.close()


def run():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        asyncio.run(main(sys.argv[1]))
    except Exception as e:  # reported, not raised: the test reads the report
        report["errors"].append("".join(traceback.format_exception(e)))
    report["ok"] = not report["errors"] and bool(report["checks"]) and all(c["pass"] for c in report["checks"])
    report["timings"]["total_ms"] = ms_since(T0)
    print(json.dumps(report, separators=(",", ":")), flush=True)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    run()
