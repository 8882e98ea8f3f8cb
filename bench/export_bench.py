"""Film export encode: our writer (storymem_engine.video.write_video, PyAV) against the ffmpeg command line.

Both encode the same raw uint8 RGB frames, generated once in memory before anything is timed, to
H.264 (libx264, yuv420p, crf 18, x264's default preset "medium", +faststart), the settings
write_video uses. The ffmpeg run gets the frames as rawvideo rgb24 on its stdin, so both sides pay
for moving the frames out of Python. Runs alternate (ours, ffmpeg, ours, ffmpeg, ...) in one process
on one machine; the ratio compares the best run of each.

    python bench/export_bench.py                  # 60 s of 832x480 at 16 fps (960 frames)
    python bench/export_bench.py --seconds 1      # a quick check of the script

ffmpeg comes from PATH, else from the imageio-ffmpeg package (pip install -e ".[bench]").
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL = 1.1
CRF = 18  # write_video's default, which the film export uses


def ffmpeg_exe() -> str | None:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


def synthetic_frames(count: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Camera-pan-like content: a detailed texture that scrolls and zooms, a moving bright disc, film grain.

    Not flat colour (which x264 encodes for free) and not white noise (which no real film is).
    """
    rng = np.random.default_rng(seed)
    pad = 256
    th, tw = height + 2 * pad, width + 2 * pad
    yy, xx = np.mgrid[0:th, 0:tw].astype(np.float32)
    texture = np.empty((th, tw, 3), np.float32)
    for c, (fx, fy, phase) in enumerate(((0.013, 0.021, 0.0), (0.017, 0.011, 1.3), (0.009, 0.015, 2.1))):
        texture[..., c] = 110 + 60 * np.sin(xx * fx + phase) * np.cos(yy * fy) + 40 * np.sin((xx + yy) * 0.05 + c)
    # Blocky detail at a few scales (buildings, foliage): smooth-free edges that cost bits to encode.
    for scale, amp in ((64, 30), (16, 18), (4, 10)):
        blocks = rng.uniform(-amp, amp, (th // scale + 1, tw // scale + 1, 3)).astype(np.float32)
        texture += np.repeat(np.repeat(blocks, scale, 0), scale, 1)[:th, :tw]
    grain = rng.normal(0, 3.0, (8, height, width, 1)).astype(np.float32)
    out = np.empty((count, height, width, 3), np.uint8)
    fy, fx = np.mgrid[0:height, 0:width].astype(np.float32)
    for i in range(count):
        t = i / max(count - 1, 1)
        ox = int(pad + pad * 0.9 * np.sin(2 * np.pi * t * 3))
        oy = int(pad + pad * 0.5 * np.cos(2 * np.pi * t * 2))
        frame = texture[oy:oy + height, ox:ox + width] + grain[i % len(grain)]
        cx = width * (0.5 + 0.35 * np.sin(2 * np.pi * t * 5))
        cy = height * (0.5 + 0.3 * np.cos(2 * np.pi * t * 7))
        disc = np.clip(1.0 - np.hypot(fx - cx, fy - cy) / (height * 0.15), 0.0, 1.0)[..., None]
        frame = frame * (1 - disc) + 235 * disc
        np.clip(frame, 0, 255, out=frame)
        out[i] = frame.astype(np.uint8)
    return out


def encode_ours(frames: np.ndarray, path: Path, fps: int) -> float:
    from storymem_engine.video import write_video

    start = time.perf_counter()
    write_video(path, frames, fps=fps, crf=CRF)
    return time.perf_counter() - start


def encode_ffmpeg(exe: str, frames: np.ndarray, path: Path, fps: int) -> float:
    _, height, width, _ = frames.shape
    cmd = [exe, "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-",
           "-c:v", "libx264", "-preset", "medium", "-crf", str(CRF), "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(path)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for frame in frames:
            proc.stdin.write(memoryview(np.ascontiguousarray(frame)).cast("B"))
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {err.strip()}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the film (default 60)")
    parser.add_argument("--fps", type=int, default=16)
    parser.add_argument("--size", default="832x480")
    parser.add_argument("--runs", type=int, default=2, help="timed runs of each encoder, alternating (default 2)")
    args = parser.parse_args()

    from storymem_engine.video import probe_video

    exe = ffmpeg_exe()
    if exe is None:
        print("no ffmpeg on PATH and imageio-ffmpeg is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    width, height = (int(v) for v in args.size.lower().split("x"))
    count = max(1, round(args.seconds * args.fps))
    t0 = time.perf_counter()
    frames = synthetic_frames(count, width, height)
    version = subprocess.run([exe, "-version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"generated {count} frames {width}x{height} in memory ({frames.nbytes / 2**20:.0f} MiB) "
          f"in {time.perf_counter() - t0:.1f}s; ffmpeg: {version.split(' Copyright')[0]} ({exe})", flush=True)

    times: dict[str, list[float]] = {"ours": [], "ffmpeg": []}
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        outs = {"ours": Path(tmp) / "ours.mp4", "ffmpeg": Path(tmp) / "ffmpeg.mp4"}
        for _ in range(args.runs):
            times["ours"].append(encode_ours(frames, outs["ours"], args.fps))
            times["ffmpeg"].append(encode_ffmpeg(exe, frames, outs["ffmpeg"], args.fps))
        info = {name: probe_video(path) for name, path in outs.items()}
        sizes = {name: os.path.getsize(path) for name, path in outs.items()}

    seconds = count / args.fps
    print(f"\nexport encode: {count} frames {width}x{height} @ {args.fps} fps ({seconds:.1f} s of film), "
          f"libx264 crf {CRF} preset medium, yuv420p, +faststart; {args.runs} alternating runs each")
    print(f"{'encoder':<34}{'runs s':>18}{'best s':>9}{'median s':>10}{'fps':>8}{'x realtime':>12}{'MiB':>8}"
          f"  {'output'}")
    labels = {"ours": "ours: write_video (PyAV)", "ffmpeg": "ffmpeg CLI, rawvideo rgb24 stdin"}
    for name, runs in times.items():
        best = min(runs)
        i = info[name]
        check = f"{i.codec}/{i.pix_fmt}/{i.profile}, {i.frames} frames, faststart={i.faststart}"
        print(f"{labels[name]:<34}{' '.join(f'{r:.2f}' for r in runs):>18}{best:>9.2f}"
              f"{statistics.median(runs):>10.2f}{count / best:>8.1f}{seconds / best:>12.1f}"
              f"{sizes[name] / 2**20:>8.1f}  {check}")
    ratio = min(times["ours"]) / min(times["ffmpeg"])
    verdict = "met" if ratio <= GOAL else "missed"
    print(f"ratio ours/ffmpeg (best runs): {ratio:.2f}x  (goal <= {GOAL}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
