"""Farm benchmark: one process vs Ray with 2 workers on this machine, and what a chunk costs.

    PYTHONPATH=src nice -n 10 python benchmarks/bench_farm.py [--frames 70] [--chunk 35] [--sizes 5,10,20,35]

On the tennis clip (``../shared/data/tennis``, 432x240; a synthetic parallax shot when it is missing) it measures

1. **one process**: ``aifx run job.json`` in a child process: wall time, CPU time, peak RSS;
2. **Ray, 2 workers**: :func:`aifx_core.farm.run_on_ray` on a local Ray started with 2 CPUs: the cluster's
   start-up apart from the run, wall time, CPU time and peak RSS of every worker (from the worker itself);
3. **per chunk**: ``aifx run job.json --frames A-B`` in a child process for several chunk sizes, and the anchors
   stage alone, each into a fresh output whose anchors are made first (as a farm's Anchors step does): CPU
   time against the chunk size is a line ``fixed + per_frame x n``.
   ``fixed`` (process start, imports, the context read around the chunk) is what a farm pays per task, so the
   overhead of a chunk of n frames is ``fixed / (per_frame x n)``.

From (3) it projects the wall time on N machines with W workers each, a core per worker: ``anchors (grown with
the shot) + ceil(chunks / (N x W)) x chunk CPU time``. Results go to ``benchmarks/results/farm.json`` and a Markdown table on stdout (for docs/farm.md).
The load average is recorded before and after: the box is shared, wall times are ratios at best.
Not a test (timings).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
WORK = HERE / "_work" / "farm"
TENNIS = REPO.parent / "shared" / "data" / "tennis"


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_shot(frames: int) -> tuple[Path, Path, str]:
    """``(plate pattern, mask pattern, source)``: the tennis clip as numbered PNGs, else a synthetic shot."""
    shot = WORK / "shot"
    if shot.exists():
        shutil.rmtree(shot)
    (shot / "plate").mkdir(parents=True)
    (shot / "mask").mkdir()
    if (TENNIS / "frames").is_dir():
        plates = sorted((TENNIS / "frames").glob("*.png"))[:frames]
        masks = sorted((TENNIS / "masks").glob("*.png"))[:frames]
        for i, (plate, mask) in enumerate(zip(plates, masks, strict=True)):
            shutil.copyfile(plate, shot / "plate" / f"plate.{1001 + i:04d}.png")
            matte = cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE)
            cv2.imwrite(str(shot / "mask" / f"mask.{1001 + i:04d}.png"), ((matte > 0) * 255).astype("uint8"))
        source = f"tennis (432x240, {len(plates)} frames)"
    else:
        import harness

        clip = harness.ParallaxClip(432, 240, frames)
        hole = harness.moving_blob(432, 240, frames)
        for i in range(frames):
            rgb = (clip.frame(i)[..., ::-1] * 255).round().astype("uint8")
            cv2.imwrite(str(shot / "plate" / f"plate.{1001 + i:04d}.png"), rgb)
            cv2.imwrite(str(shot / "mask" / f"mask.{1001 + i:04d}.png"), (hole.mask(i) * 255).astype("uint8"))
        source = f"synthetic parallax shot (432x240, {frames} frames; tennis not found)"
    return shot / "plate" / "plate.####.png", shot / "mask" / "mask.####.png", source


def save_job(plate: Path, mask: Path, name: str) -> Path:
    from aifx_core.protocol.job import FillJob

    out = WORK / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    job_file = WORK / f"{name}.json"
    FillJob(input=str(plate), mask=str(mask), output=str(out / "clean.####.png")).save(job_file)
    return job_file


def child(job_file: Path, *args: str) -> dict[str, float]:
    """``aifx run job.json ARGS`` in a child process that reports its own wall, CPU and peak RSS."""
    code = (
        "import json,sys,time,resource;t=time.perf_counter();from aifx_core.cli import main;rc=main(sys.argv[1:]);"
        "u=resource.getrusage(resource.RUSAGE_SELF);"
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1];"
        "print(json.dumps({'rc':rc,'wall_s':time.perf_counter()-t,'cpu_s':u.ru_utime+u.ru_stime,"
        "'peak_rss_mib':int(hwm)/1024}),file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "run", str(job_file), *args], capture_output=True, text=True, check=False
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    if report["rc"] != 0:
        raise SystemExit(f"aifx run {job_file} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return report


def ray_run(job_file: Path, chunk: int) -> dict[str, object]:
    import ray

    from aifx_core.farm.ray_executor import LOCAL_OBJECT_STORE, run_on_ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=LOCAL_OBJECT_STORE)
    started = time.perf_counter()
    cpu = _cpu_s()
    try:
        result = run_on_ray(job_file, chunk=chunk, workers=2)
    finally:
        done = time.perf_counter()
        ray.shutdown()
    return {
        "cluster_start_s": started - start,
        "wall_s": done - started,
        "driver_cpu_s": _cpu_s() - cpu,
        "driver_peak_rss_mib": _peak_rss_mib(),
        "workers": result.workers,
        "chunks": result.chunks,
        "written": len(result.written),
    }


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least squares ``cpu = fixed + per_frame x n``."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=70)
    parser.add_argument("--chunk", type=int, default=35, help="chunk size of the Ray run")
    parser.add_argument("--sizes", default="5,10,20,35", help="chunk sizes for the per-chunk cost")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "farm.json")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    plate, mask, source = make_shot(args.frames)
    frames = args.frames

    one = child(save_job(plate, mask, "one"))
    on_ray = ray_run(save_job(plate, mask, "ray"), args.chunk)
    anchors = child(save_job(plate, mask, "anchors"), "--anchors")
    per_chunk = []
    for size in [int(s) for s in args.sizes.split(",")]:
        first = 1001 + (frames - size) // 2  # a chunk in the middle: context on both sides
        job_file = save_job(plate, mask, f"chunk{size}")
        child(job_file, "--anchors")  # as on a farm: the Anchors step ran before, the chunk reads its cache
        report = child(job_file, "--frames", f"{first}-{first + size - 1}")
        per_chunk.append({"size": size, **report})
    fixed, per_frame = fit([(c["size"], c["cpu_s"]) for c in per_chunk])
    # The last chunk again: every frame is done, so this is a task's cost with no work (process, imports, setup).
    size = per_chunk[-1]["size"]
    first = 1001 + (frames - size) // 2
    idle = child(WORK / f"chunk{size}.json", "--frames", f"{first}-{first + size - 1}")
    load_after = os.getloadavg()

    projection = []
    for machines in (1, 2, 4, 8, 16):
        for workers in (2,):
            for shot in (frames, 1000):
                chunks = math.ceil(shot / args.chunk)
                waves = math.ceil(chunks / (machines * workers))
                # The anchors stage runs once, before the chunks, and grows with the shot.
                seconds = anchors["cpu_s"] * shot / frames + waves * (
                    fixed + per_frame * min(args.chunk, shot)
                )
                projection.append(
                    {"machines": machines, "workers": workers, "frames": shot, "wall_s": seconds}
                )

    results = {
        "source": source,
        "frames": frames,
        "chunk": args.chunk,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": os.cpu_count(),
        "one_process": one,
        "ray_2_workers": on_ray,
        "anchors": anchors,
        "per_chunk": per_chunk,
        "fit": {"fixed_cpu_s": fixed, "per_frame_cpu_s": per_frame},
        "task_with_nothing_to_do": idle,
        "projection": projection,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(report_markdown(results))
    return 0


def report_markdown(r: dict) -> str:
    frames, ray_run_ = r["frames"], r["ray_2_workers"]
    one = r["one_process"]
    workers = ray_run_["workers"]
    lines = [
        f"Shot: {r['source']}; load average {r['load_average_before'][0]:.1f} before, "
        f"{r['load_average_after'][0]:.1f} after, {r['cpus']} CPUs shared.",
        "",
        "| run | wall s | frames/s | CPU s | peak RSS per process (MiB) |",
        "|---|---|---|---|---|",
        f"| 1 process (`aifx run`) | {one['wall_s']:.1f} | {frames / one['wall_s']:.2f} | {one['cpu_s']:.1f} | "
        f"{one['peak_rss_mib']:.0f} |",
        f"| Ray, 2 workers, chunk {r['chunk']} (after start-up) | {ray_run_['wall_s']:.1f} | "
        f"{frames / ray_run_['wall_s']:.2f} | {sum(w['cpu_s'] for w in workers):.1f} (workers) + "
        f"{ray_run_['driver_cpu_s']:.1f} (driver) | "
        + ", ".join(f"{w['peak_rss_mib']:.0f}" for w in workers)
        + f" (driver {ray_run_['driver_peak_rss_mib']:.0f}) |",
        f"| Ray cluster start-up (local, once per run) | {ray_run_['cluster_start_s']:.1f} | | | |",
        "",
        "| task | frames | CPU s | wall s | CPU s per frame |",
        "|---|---|---|---|---|",
        f"| anchors stage (`--anchors`) | - | {r['anchors']['cpu_s']:.2f} | {r['anchors']['wall_s']:.2f} | |",
    ]
    for c in r["per_chunk"]:
        lines.append(
            f"| chunk (`--frames`) | {c['size']} | {c['cpu_s']:.2f} | {c['wall_s']:.2f} | {c['cpu_s'] / c['size']:.3f} |"
        )
    fixed, per = r["fit"]["fixed_cpu_s"], r["fit"]["per_frame_cpu_s"]
    lines += [
        "",
        f"Fit: CPU s of a chunk task = {fixed:.2f} + {per:.3f} x frames. A task with nothing to do (process "
        f"start, imports, setup) costs {r['task_with_nothing_to_do']['cpu_s']:.2f} CPU s; the rest of the fixed "
        f"part, {fixed - r['task_with_nothing_to_do']['cpu_s']:.2f} CPU s, is the context read around the chunk "
        "(a warm Ray worker pays only that part per chunk).",
        "",
        "| machines x workers | frames | projected wall s |",
        "|---|---|---|",
    ]
    for p in r["projection"]:
        lines.append(f"| {p['machines']} x {p['workers']} | {p['frames']} | {p['wall_s']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
