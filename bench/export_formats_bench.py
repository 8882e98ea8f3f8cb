"""Every export of a long project, timed once each in one run: csv, otio, fcp7, fcpx, edl, pdf and mp4.

The project has --shots shots (default 1,000) in scenes of 10; every other shot has an accepted take with its
own small clip (9 frames, 64x48, H.264) and keyframe PNG, the others have no take (gaps in the timelines, cards
in the film and the PDF). Each format goes through `main.py export` in this process (the code File > Export
runs), so the times include loading and checking the project. Nothing is timed twice: the numbers are one
cold-ish run each, on whatever machine this is.

    python bench/export_formats_bench.py                 # 1,000 shots, every format
    python bench/export_formats_bench.py --shots 30      # a quick check of the script
    python bench/export_formats_bench.py --cards         # timelines with animatic card clips as well
    python bench/export_formats_bench.py --clip 832x480x81 --skip mp4 pdf   # takes the size of the method's shot

Goals: under 2 s per format, the PDF under 10 s. The film encodes every frame of every shot (its time grows
with the running time, not with the shot count), so it is reported but has no goal.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOALS = {"pdf": 10.0, "mp4": None}
DEFAULT_GOAL = 2.0
SUFFIXES = {"csv": "csv", "otio": "otio", "fcp7": "xml", "fcpx": "fcpxml", "edl": "edl", "pdf": "pdf", "mp4": "mp4"}


def build_project(folder: Path, shots: int, clip_size: tuple[int, int] = (64, 48), clip_frames: int = 9) -> Path:
    """A saved project of ``shots`` shots; every other one with a take (its own clip and keyframe files)."""
    import numpy as np
    from PIL import Image

    from storymem_engine.project import Project
    from storymem_engine.story import Shot, Story, Take
    from storymem_engine.video import write_video

    template = folder / "template"
    template.mkdir(parents=True)
    width, height = clip_size
    frames = np.zeros((clip_frames, height, width, 3), dtype=np.uint8)
    frames[..., 0] = np.linspace(0, 255, clip_frames, dtype=np.uint8)[:, None, None]
    frames[..., 1] = np.linspace(0, 255, width, dtype=np.uint8)[None, None, :]
    write_video(template / "clip.mp4", frames, fps=16)
    Image.new("RGB", (width, height), (40, 120, 200)).save(template / "keyframe_0.png")

    story = Story(name="Bench story", overview="A long story to time every export. " * 4)
    project = Project(folder=folder / "Bench.storymem", story=story)
    for index in range(shots):
        shot = Shot(id=f"shot-{index + 1:04d}", prompt=f"Shot {index + 1}: the keeper climbs the stairs, wind in "
                    "her scarf, the lamp room glowing above; gulls circle the gallery rail.",
                    cut=index % 10 == 0, scene_num=1 + index // 10, shot_size="wide" if index % 3 else "close-up",
                    notes="Hold on her face." if index % 7 == 0 else "")
        if index % 2 == 0:
            take_folder = project.folder / "takes" / shot.id / "take1"
            take_folder.mkdir(parents=True)
            shutil.copy(template / "clip.mp4", take_folder / "clip.mp4")
            shutil.copy(template / "keyframe_0.png", take_folder / "keyframe_0.png")
            rel = f"takes/{shot.id}/take1"
            shot.takes.append(Take(id="take1", clip=f"{rel}/clip.mp4", keyframes=[f"{rel}/keyframe_0.png"],
                                   frames=clip_frames, engine="bench",
                                   request={"seed": index, "mode": "m2v", "width": width, "height": height,
                                            "frames": clip_frames,
                                            "steps": 2, "memory_keys": [f"shot-0001/take1/{index % 3}"]}))
            shot.accepted_take = "take1"
        story.shots.append(shot)
    project.save()
    return project.folder


def run_export(project: Path, fmt: str, out: Path, extra: list[str]) -> tuple[float, str]:
    from main import main as app_main

    argv = ["export", str(project), "--format", fmt, "--out", str(out), "--force", *extra]
    captured_out, captured_err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(captured_out), contextlib.redirect_stderr(captured_err):
        status = app_main(argv)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{fmt}: exit {status}: {captured_err.getvalue().strip()}")
    return seconds, captured_out.getvalue().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--cards", action="store_true", help="also time the timelines with animatic card clips")
    parser.add_argument("--skip", nargs="*", default=[], choices=list(SUFFIXES), help="formats not to run")
    parser.add_argument("--clip", default="64x48x9", metavar="WxHxFRAMES",
                        help="every take's clip (832x480x81: the method's shot, for what reading real clips costs)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        width, height, frames = (int(n) for n in args.clip.split("x"))
        project = build_project(tmp_path, args.shots, (width, height), frames)
        print(f"project: {args.shots} shots, {(args.shots + 1) // 2} takes of {args.clip}, built in "
              f"{time.perf_counter() - start:.1f} s (not timed below)")
        print(f"{'format':<14} {'seconds':>8}  {'goal':>6}  result")
        runs = [(fmt, []) for fmt in SUFFIXES if fmt not in args.skip]
        if args.cards:
            runs += [(f"{fmt}+cards", ["--empty-shots", "card"]) for fmt in ("otio", "fcp7", "fcpx", "edl")
                     if fmt not in args.skip]
        over = 0
        for label, extra in runs:
            fmt = label.split("+")[0]
            out = tmp_path / f"out-{label.replace('+', '-')}.{SUFFIXES[fmt]}"
            seconds, message = run_export(project, fmt, out, extra)
            goal = GOALS.get(fmt, DEFAULT_GOAL) if not extra else None
            verdict = "" if goal is None else ("ok" if seconds < goal else "OVER GOAL")
            over += verdict == "OVER GOAL"
            goal_text = "-" if goal is None else f"<{goal:g}"
            print(f"{label:<14} {seconds:8.2f}  {goal_text:>6}  {verdict:9} {message}")
    print(f"{over} format(s) over their goal" if over else "every format within its goal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
