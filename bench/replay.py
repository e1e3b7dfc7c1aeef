"""Benchmark: replay and verify a cascade of more than 100,000 events.

Run: .venv/bin/python bench/replay.py [--provinces 100]

Runs chidao's whole cascade (bench/cascade.py's phases, without the bare loop) on a ministry over N copies
of the Lạng Sơn department's subtree: 100 copies are 25,701 units, whose letters, messages, requests,
demands, reports and consolidated reports make over 100,000 events (47 copies: about 12,000 units, the
national size). Then it times, apart, the three things an auditor runs: the timeline (`chidao replay`),
the state at the middle moment (`--at`), and verify (`--verify`: the hash chain, every letter derived
again, every message and report checked, every issued PDF against its recorded SHA-256); with --deep,
also `--verify --deep` (every issued PDF drawn again and its signatures validated, on every core).
Prints the figures. Not part of the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cascade import ministry_directive, run_chidao, sink_process, synthetic_hierarchy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provinces", type=int, default=100, help="Copies of the department's subtree")
    parser.add_argument("--deep", action="store_true", help="Also time --verify --deep (the PDFs as documents)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chidao-replay-") as tmp:
        work = Path(tmp)
        hierarchy_file, directive_file = work / "hierarchy.yaml", work / "directive.yaml"
        hierarchy_file.write_text(yaml.safe_dump(synthetic_hierarchy(args.provinces), allow_unicode=True), "utf-8")
        directive_file.write_text(yaml.safe_dump(ministry_directive(), allow_unicode=True, sort_keys=False), "utf-8")
        with sink_process() as port:
            result = run_chidao(hierarchy_file, directive_file, work, port)

        from chidao import audit
        from chidao.replay import state_at
        from chidao.settings import settings
        from db.engine import transaction

        url = settings().url
        figures = {}
        with transaction(url) as session:
            start = time.perf_counter()
            timeline = audit.timeline(session, 1)
            figures["timeline"] = time.perf_counter() - start
            start = time.perf_counter()
            state = state_at(session, 1, timeline[len(timeline) // 2].at)
            figures["state at the middle moment"] = time.perf_counter() - start
            start = time.perf_counter()
            verification = audit.verify(session, 1)
            figures["verify"] = time.perf_counter() - start
            if args.deep:
                start = time.perf_counter()
                deep = audit.verify(session, 1, deep=True)
                figures["verify --deep"] = time.perf_counter() - start
                verification = deep if not deep.holds else verification
    print(f"cascade of {result['events']:,} events ({result['letters']:,} letters, {result['messages']:,} messages)")
    for what, seconds in figures.items():
        print(f"  {what:<28} {seconds:7.2f} s")
    print(f"  {'all three':<28} {sum(v for k, v in figures.items() if k != 'verify --deep'):7.2f} s")
    print(f"  the record holds: {verification.holds}; letters in the middle state: {len(state.letters):,}")
    print(f"  issued PDFs checked: {verification.pdfs:,}")


if __name__ == "__main__":
    main()
