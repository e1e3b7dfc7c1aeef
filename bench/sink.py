"""An SMTP sink for the benchmark, in its own process: accepts every message on loopback and counts them.

Run by bench/cascade.py: `python bench/sink.py PORT`. It prints "ready" once listening; on SIGTERM it prints
one JSON line, {"messages": N, "distinct_ids": M}, and exits. Counting instead of storing keeps the sink
off the figures: a Maildir write per message would measure the disk, not chidao.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from typing import Any

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.MULTILINE | re.IGNORECASE)


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.ids: set[bytes] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        found = MESSAGE_ID.search((envelope.original_content or b"")[:4096])
        if found:
            self.ids.add(found.group(1))
        return "250 Message accepted"


def main() -> None:
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()
    print(json.dumps({"messages": counter.messages, "distinct_ids": len(counter.ids)}), flush=True)


if __name__ == "__main__":
    main()
