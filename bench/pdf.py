"""Benchmark: what a signed letter costs: the PDF drawn, the approver's signature, the văn thư's fill and seal,
and verifying the result; keys on SoftHSM2 tokens and in PKCS#12 files, kept as chidao keeps them.

Run: .venv/bin/python bench/pdf.py [--letters 30]

Makes a throwaway PKI for the Lạng Sơn example (per store, each in a process of its own: SoftHSM2 reads
its configuration once per process), takes the department's letter (2 pages, 4 recipients' lines), and
times each step over --letters letters after one warm-up. Prints medians and the total per letter, in
wall-clock time and in the process's CPU time (steadier when other work shares the cores), and what the
naive path (pyHanko's SimpleSigner loading the PKCS#12 file at every signature) costs beside it.

Then what `chidao replay --verify` spends per issued PDF: its SHA-256 (the default check), and the deep
check (`--deep`: drawn again, signatures validated) in this process and in worker processes on every core,
with the national cascade's 1,650 PDFs (823 letters, 823 BÁO CÁO) worked out from them. Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
LANGSON = ROOT / "examples" / "langson"


NATIONAL_PDFS = 1_650


def measure(store: str, letters: int) -> dict[str, Any]:
    from chidao.cascade import load_inputs
    from letters.pdf import render_pdf
    from letters.plan import first_letter
    from signing import pades
    from signing.keys import load_keyring
    from signing.pki import make_pki
    from signing.signers import trust_roots, unlocked
    from signing.verify import verify_pdf

    directive, hierarchy = load_inputs(LANGSON / "directive-hsg-2023.yaml", LANGSON / "hierarchy.yaml")
    letter = first_letter(directive, hierarchy, date(2023, 12, 1)).letter
    letter = letter.model_copy(update={"number": 5, "issued_on": date(2024, 2, 5)})
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        made = make_pki(hierarchy, Path(work) / "pki", store=store)
        pki_seconds = time.perf_counter() - started
        keys = load_keyring(made.keys_file)
        approver, body = keys.approver("stttt-langson-pgd-lan"), keys.unit("20.STTTT")
        trust = trust_roots(keys.trust)
        when = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(microsecond=0)
        times: dict[str, list[float]] = {"render": [], "approver": [], "issue": [], "verify": [], "letter": []}
        cpu: dict[str, list[float]] = {name: [] for name in times}
        size = 0
        issued: list[bytes] = []
        for i in range(letters + 1):
            c0 = time.process_time()
            t0 = time.perf_counter()
            base = render_pdf(letter).data
            t1, c1 = time.perf_counter(), time.process_time()
            with unlocked(keys, approver, None) as signer:
                one = pades.sign_approval(base, signer, approver.image, when, trust, approver.owner)
            t2, c2 = time.perf_counter(), time.process_time()
            with unlocked(keys, body, None) as signer:
                two = pades.issue(
                    one,
                    number="05",
                    day="05",
                    signer=signer,
                    seal=body.image,
                    seal_mm=body.seal_mm,
                    body=[letter.issuer_name],
                    when=when,
                    trust=trust,
                )
            t3, c3 = time.perf_counter(), time.process_time()
            assert verify_pdf(two, trust).holds
            t4, c4 = time.perf_counter(), time.process_time()
            if i == 0:
                continue  # the first letter loads fonts and keys
            size = len(two)
            issued.append(two)
            for name, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t3 - t0), strict=True):
                times[name].append(value * 1000)
            for name, value in zip(cpu, (c1 - c0, c2 - c1, c3 - c2, c4 - c3, c3 - c0), strict=True):
                cpu[name].append(value * 1000)
        checks = _verification(issued, letter, body.seal_mm, trust) if store == "pkcs12" else None
        naive = _naive(keys, approver, base, when, trust, letters) if store == "pkcs12" else None
    return {
        "store": store,
        "pki_seconds": pki_seconds,
        "keys": made.approvers + made.units,
        "median_ms": {name: statistics.median(values) for name, values in times.items()},
        "median_cpu_ms": {name: statistics.median(values) for name, values in cpu.items()},
        "bytes": size,
        "naive_approver_ms": naive,
        "verification": checks,
    }


def _verification(issued: list[bytes], letter: Any, seal_mm: float, trust: list[Any]) -> dict[str, float]:
    """ms per PDF: the SHA-256 (replay --verify), the deep check here and on every core (--verify --deep)."""
    import hashlib

    from chidao.documents import DeepCheck, _cores, _run_deep, deep_check

    started = time.perf_counter()
    for data in issued:
        hashlib.sha256(data).hexdigest()
    sha = (time.perf_counter() - started) * 1000 / len(issued)
    ders = tuple(cert.dump() for cert in trust)
    jobs = [DeepCheck(f"letter {i}", data, letter, seal_mm, False, ders, "") for i, data in enumerate(issued)]
    started = time.perf_counter()
    assert all(deep_check(job) == [] for job in jobs)
    inline = (time.perf_counter() - started) * 1000 / len(jobs)
    pool_jobs = jobs * 4  # enough work for the workers' start to count for what it does at scale
    started = time.perf_counter()
    assert _run_deep(pool_jobs, _cores()) == []
    pooled = (time.perf_counter() - started) * 1000 / len(pool_jobs)
    return {"sha256_ms": sha, "deep_ms": inline, "deep_pool_ms": pooled, "cores": _cores()}


def _naive(keys: Any, approver: Any, base: bytes, when: datetime, trust: list[Any], letters: int) -> float:
    """pyHanko's stock path: the PKCS#12 file read and its key parsed at every signature."""
    from pyhanko.sign import signers

    from signing import pades

    pin = approver.stored_pin().encode("utf-8")
    spent = []
    for _ in range(min(letters, 10)):
        t0 = time.perf_counter()
        signer = signers.SimpleSigner.load_pkcs12(str(approver.pkcs12), passphrase=pin)
        assert signer is not None
        pades.sign_approval(base, signer, approver.image, when, trust, approver.owner)
        spent.append((time.perf_counter() - t0) * 1000)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--letters", type=int, default=30)
    parser.add_argument("--store", choices=["softhsm", "pkcs12"], help="(one store, in this process)")
    args = parser.parse_args()
    if args.store:
        print(json.dumps(measure(args.store, args.letters)))
        return
    from signing.pki import softhsm_module

    stores = ["softhsm", "pkcs12"] if softhsm_module() else ["pkcs12"]
    rows = []
    for store in stores:
        done = subprocess.run(
            [sys.executable, __file__, "--store", store, "--letters", str(args.letters)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"Signed letter, Lạng Sơn department's letter (2 pages), median of {args.letters} after one warm-up (ms):")
    print(f"{'keys on':<16}{'render':>8}{'approver':>10}{'fill+seal':>11}{'= letter':>10}{'verify':>8}{'KB':>6}")
    for row in rows:
        m = row["median_ms"]
        print(
            f"{row['store']:<16}{m['render']:>8.1f}{m['approver']:>10.1f}{m['issue']:>11.1f}"
            f"{m['letter']:>10.1f}{m['verify']:>8.1f}{row['bytes'] / 1024:>6.0f}"
        )
    print("the same in CPU time of the process (ms):")
    for row in rows:
        m = row["median_cpu_ms"]
        print(
            f"{row['store']:<16}{m['render']:>8.1f}{m['approver']:>10.1f}{m['issue']:>11.1f}"
            f"{m['letter']:>10.1f}{m['verify']:>8.1f}"
        )
    for row in rows:
        if row["verification"]:
            v = row["verification"]
            national, deep = NATIONAL_PDFS * v["sha256_ms"] / 1000, NATIONAL_PDFS * v["deep_pool_ms"] / 1000
            print(
                f"replay --verify per issued PDF: SHA-256 {v['sha256_ms']:.2f} ms; --deep {v['deep_ms']:.1f} ms here, "
                f"{v['deep_pool_ms']:.1f} ms on {v['cores']} worker(s); {NATIONAL_PDFS:,} PDFs (national): "
                f"{national:.2f} s, --deep {deep:.0f} s"
            )
    for row in rows:
        print(f"trial PKI on {row['store']}: {row['keys']} keys in {row['pki_seconds']:.1f} s")
        if row["naive_approver_ms"]:
            print(
                f"the approver's signature the naive way (PKCS#12 loaded each time): {row['naive_approver_ms']:.1f} ms"
            )


if __name__ == "__main__":
    main()
