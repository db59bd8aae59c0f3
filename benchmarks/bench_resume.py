"""What a resume costs: only the unfinished frames plus their context (issue #14 item 2).

A synthetic parallax shot (432x240, 292 frames by default, half-float EXR plates, a moving blob and a static
square as holes) is filled whole with the temporal engine; then

* **tail deleted**: the last 10 % of the output frames are deleted and the job is rerun;
* **killed**: a fresh run is cancelled once 90 % of the frames are written, then rerun;
* **middle chunk**: a 10 % chunk from the middle of the shot is deleted and rerun (``--frames`` style);
* **anchors stage alone**: what ``aifx run job.json --anchors`` costs on a fresh output (the farm's first step);

and each rerun's CPU time (user + system of this process, all threads: ``resource.getrusage``) is compared with
the whole run's. Every rewritten frame must be byte-identical to the whole run's. Timings on a shared machine
are ratios at best: the load average is recorded next to them. Results go to ``benchmarks/results/resume.json``
and a markdown table is printed for docs/farm.md.

    PYTHONPATH=src nice -n 10 python benchmarks/bench_resume.py [--frames 292] [--width 432 --height 240]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

from aifx_core import Cancelled, CancelToken, FillJob, fill  # noqa: E402
from aifx_core.pipeline import prepare_anchors  # noqa: E402

FIRST = 1001


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(call) -> tuple[object, float, float]:
    cpu, wall = cpu_seconds(), time.perf_counter()
    result = call()
    return result, cpu_seconds() - cpu, time.perf_counter() - wall


def digests(out: Path, frames: range) -> dict[int, str]:
    return {f: hashlib.sha256((out / f"clean.{f:04d}.exr").read_bytes()).hexdigest() for f in frames}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=292)
    parser.add_argument("--width", type=int, default=432)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--work", type=Path, default=harness.REPO / "benchmarks" / "_work" / "resume")
    parser.add_argument("--out", type=Path, default=harness.REPO / "benchmarks" / "results" / "resume.json")
    args = parser.parse_args()
    count = args.frames
    shutil.rmtree(args.work, ignore_errors=True)
    clip = harness.ParallaxClip(args.width, args.height, count)
    blob, square = (
        harness.moving_blob(clip.width, clip.height, count),
        harness.static_square(clip.width, clip.height),
    )
    holes = harness.Holes("blob + square", lambda t: blob.mask(t) | square.mask(t))
    plate, mask = harness.write_plate(clip, holes, args.work / "shot", FIRST)
    last = FIRST + count - 1
    tail = range(last - count // 10 + 1, last + 1)
    middle_start = FIRST + count // 2
    middle = range(middle_start, middle_start + count // 10)

    def job(name: str) -> FillJob:
        return FillJob(
            input=plate, mask=mask, output=str(args.work / name / "clean.####.exr"), colorspace="sRGB"
        )

    load_before = os.getloadavg()
    whole_dir = args.work / "whole"
    _, whole_cpu, whole_wall = timed(lambda: fill(job("whole")))
    reference = digests(whole_dir, range(FIRST, last + 1))

    rows = {}
    for name, frames in (("tail deleted", tail), ("middle chunk", middle)):
        for f in frames:
            (whole_dir / f"clean.{f:04d}.exr").unlink()
        result, cpu, wall = timed(lambda: fill(job("whole")))
        assert result.written == list(frames), (name, result.written[:5])
        exact = digests(whole_dir, frames) == {f: reference[f] for f in frames}
        rows[name] = {"frames": len(frames), "cpu_s": cpu, "wall_s": wall, "identical": exact}

    token = CancelToken()
    stop_at = count - len(tail)

    def stop(event) -> None:
        if event.stage == "write" and event.index == stop_at:
            token.cancel()

    killed_dir = args.work / "killed"
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    with contextlib.suppress(Cancelled):
        fill(job("killed"), progress=stop, cancel=token)
    first_cpu, first_wall = cpu_seconds() - cpu0, time.perf_counter() - wall0
    result, cpu, wall = timed(lambda: fill(job("killed")))
    exact = digests(killed_dir, range(FIRST, last + 1)) == reference
    rows["killed at 90 %"] = {
        "frames": len(result.written),
        "cpu_s": cpu,
        "wall_s": wall,
        "identical": exact,
        "before_kill_cpu_s": first_cpu,
        "before_kill_wall_s": first_wall,
    }
    _, anchors_cpu, anchors_wall = timed(lambda: prepare_anchors(job("anchors")))
    rows["anchors stage alone (fresh)"] = {
        "frames": 0,
        "cpu_s": anchors_cpu,
        "wall_s": anchors_wall,
        "identical": True,
    }
    load_after = os.getloadavg()
    report = {
        "clip": f"{clip.name}, {count} frames, holes: {holes.name}",
        "whole": {"frames": count, "cpu_s": whole_cpu, "wall_s": whole_wall},
        "reruns": rows,
        "load_average": {"before": load_before, "after": load_after},
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"whole run: {count} frames, CPU {whole_cpu:.1f} s, wall {whole_wall:.1f} s")
    print("| rerun | frames rewritten | CPU s | CPU / whole run | wall / whole run | byte-identical |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(
            f"| {name} | {row['frames']} | {row['cpu_s']:.1f} | {row['cpu_s'] / whole_cpu:.2f} | "
            f"{row['wall_s'] / whole_wall:.2f} | {'yes' if row['identical'] else 'NO'} |"
        )
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
