"""Bounded load test of ``aifx serve`` on loopback: N clients x M small jobs, all finishing by themselves.

    python benchmarks/bench_serve.py                      # 8 clients x 5 jobs, prints a table
    python benchmarks/bench_serve.py --write-docs         # also updates the table in docs/serve.md

Each client is a thread with its own user and token; it submits its jobs one after another (the queue and
the round-robin between users see real contention), then follows each job's event stream to the end. It
reports throughput (jobs and frames per second, first submit to last final event), submit latency (median,
p95, max: the time ``POST /v1/jobs`` takes, which must stay small however long the queue is), the longest
wait before a user's first job started, and the peak resident memory of the server and its worker process,
sampled every 50 ms with psutil. Scratch files go to ``benchmarks/_work/serve`` (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from shot_files import make_shot, shot_job  # noqa: E402

from aifx_core.protocol.remote import RemoteClient  # noqa: E402

DOC = REPO / "docs" / "serve.md"
START, END = "<!-- serve-load:start -->", "<!-- serve-load:end -->"


class Sampler(threading.Thread):
    """Peak RSS of a process and of its children, sampled until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak_server = self.peak_workers = self.peak_total = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                server = self.process.memory_info().rss
                workers = sum(c.memory_info().rss for c in self.process.children(recursive=True))
            except psutil.Error:
                break
            self.peak_server = max(self.peak_server, server)
            self.peak_workers = max(self.peak_workers, workers)
            self.peak_total = max(self.peak_total, server + workers)
            time.sleep(0.05)


def run(clients: int, jobs: int, frames: int, work: Path) -> dict:
    if work.exists():
        shutil.rmtree(work)
    shot = make_shot(work / "shots" / "plate", range(1, frames + 1))
    tokens = {f"artist{i}": f"bench-token-{i}" for i in range(clients)}
    (work / "tokens").write_text("".join(f"{name} {token}\n" for name, token in tokens.items()))
    command = [
        sys.executable, "-m", "aifx_core", "serve", "--port", "0", "--workers", "cpu",
        "--state", str(work / "state"), "--token-file", str(work / "tokens"), "--root", str(work / "shots"),
        "--max-queue", str(clients * jobs), "--per-user", str(jobs),
    ]  # fmt: skip
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert server.stderr is not None
    url = ""
    for line in server.stderr:
        if "listening on " in line:
            url = line.split("listening on ")[1].split()[0]
            break
    if not url:
        raise SystemExit("the server did not start")
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()  # type: ignore[union-attr]
    sampler = Sampler(server.pid)
    sampler.start()

    latencies: list[float] = []
    waits: list[float] = []
    finals: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        name = f"artist{index}"
        remote = RemoteClient(url, tokens[name], timeout=60)
        barrier.wait()
        ids = []
        for j in range(jobs):
            job = shot_job(shot, work / "shots" / "out" / name / f"job{j}" / "c.####.exr")
            started = time.perf_counter()
            ids.append(remote.submit(job.to_dict())["id"])
            with lock:
                latencies.append(time.perf_counter() - started)
        submitted = time.time()
        for n, job_id in enumerate(ids):
            events = list(remote.events(job_id))
            if n == 0:
                record = remote.job(job_id)
                with lock:
                    waits.append(record["started"] - submitted)
            with lock:
                finals.append(events[-1]["event"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    sampler.stop.set()
    sampler.join()
    server.terminate()
    server.wait(timeout=30)

    total = clients * jobs
    if finals.count("done") != total:
        raise SystemExit(f"only {finals.count('done')} of {total} jobs finished: {finals}")
    mib = 1024 * 1024
    return {
        "clients": clients,
        "jobs_per_client": jobs,
        "frames_per_job": frames,
        "frame_size": "64x48 EXR, telea",
        "jobs": total,
        "seconds": round(elapsed, 2),
        "jobs_per_s": round(total / elapsed, 2),
        "frames_per_s": round(total * frames / elapsed, 1),
        "submit_ms_median": round(statistics.median(latencies) * 1000, 1),
        "submit_ms_p95": round(statistics.quantiles(latencies, n=20)[-1] * 1000, 1),
        "submit_ms_max": round(max(latencies) * 1000, 1),
        "submit_ms_sorted": [round(x * 1000) for x in sorted(latencies)],
        "first_job_wait_s_max": round(max(waits), 2),
        "peak_rss_server_mib": round(sampler.peak_server / mib),
        "peak_rss_worker_mib": round(sampler.peak_workers / mib),
        "peak_rss_total_mib": round(sampler.peak_total / mib),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at "
        f"the end (other work on the machine), Python {platform.python_version()}",
    }


def table(result: dict) -> str:
    rows = [
        ("load", f"{result['clients']} clients x {result['jobs_per_client']} jobs of {result['frames_per_job']} "
                 f"frames ({result['frame_size']}), one CPU worker"),
        ("wall time", f"{result['seconds']} s"),
        ("throughput", f"{result['jobs_per_s']} jobs/s, {result['frames_per_s']} frames/s"),
        ("submit latency", f"median {result['submit_ms_median']} ms, p95 {result['submit_ms_p95']} ms, "
                           f"max {result['submit_ms_max']} ms"),
        ("longest wait for a user's first job", f"{result['first_job_wait_s_max']} s"),
        ("peak RSS", f"server {result['peak_rss_server_mib']} MiB, worker {result['peak_rss_worker_mib']} MiB "
                     f"(together {result['peak_rss_total_mib']} MiB)"),
        ("machine", result["machine"]),
    ]  # fmt: skip
    return "| measure | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)


def write_docs(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    head, _, rest = doc.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{START}\n{text}{END}{tail}", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / "_work" / "serve")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--write-docs", action="store_true", help="update the table in docs/serve.md")
    args = parser.parse_args()
    result = run(args.clients, args.jobs, args.frames, args.work.resolve())
    text = table(result)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.write_docs:
        write_docs(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
