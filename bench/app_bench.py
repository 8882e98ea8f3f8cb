"""Desktop app responsiveness: launch, opening a 1,000-shot project, drag reorder, UI stalls while generating.

Each part runs in its own fresh subprocess (offscreen Qt unless QT_QPA_PLATFORM is set, settings in a
temporary folder, no dialogs), and this script prints one table per part:

  launch  process start (the parent's clock just before it starts the child) to the main window's
          first Paint event, as `python main.py` shows it: the sample story in a 1440x900 window.
          Import time (PySide6 + the storyboard modules) is reported as its own row.
  open    `window.files.open_path(folder)` of a 1,000-shot project until the timeline has painted,
          for a project without takes and one where every shot has an accepted take (832x480 clip,
          2 keyframe PNGs, memory keys recorded as the director records them).
  edit    with every shot of that project selected, one inspector setting (frames) changed until painted,
          and side by side the same change as one command per shot (1,000 repaints of the panels).
  drag    the drop of one shot in the 1,000-shot timeline: the drop index from the cursor x
          (TimelineView.insertion_row, which dragMoveEvent also runs on every mouse move), the
          view's move_requested signal (what dropEvent emits) through EditController.move and the
          undo stack, until the timeline has painted; then Undo the same way. Median and max.
          The dragged shot is selected (and its clip loaded into the preview) before the drop is
          timed, as the press that starts a real drag selects it.
  stall   the longest gap between ticks of a 5 ms QTimer on the UI thread while
          `window.generation.generate_all()` runs the tiny engine on a 3-shot story at 832x480
          (a cold queue, which starts the engine process, where torch loads with the models, then a
          warm one). The events running on the UI thread during the longest gap are named.

    python bench/app_bench.py                         # every part (a few minutes on 2 cores)
    python bench/app_bench.py --parts launch,open     # some parts
    python bench/app_bench.py --quick                 # small sizes: checks the script
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = "RESULT "
VARIANTS = {"plain": "no takes", "takes": "every shot with a take"}
GOALS = {"launch": 0.5, "open": 1.0, "drag": 0.016, "stall": 0.050, "edit": 0.1}  # seconds


# ---------------------------------------------------------------------------- child helpers
def _qt_setup(settings_dir: str, app_class=None):
    """A QApplication as storyboard.app.main makes it, with QSettings in a temporary folder."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from storyboard import dialogs
    from storyboard.theme import apply_dark_theme

    app = QApplication.instance() or (app_class or QApplication)([sys.argv[0]])
    app.setOrganizationName("StoryMemBench")
    app.setApplicationName("StoryMem Studio Bench")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)
    apply_dark_theme(app)
    dialogs.set_interactive(False)
    return app


class _Painted:
    """Counts Paint events of one widget (an event filter; it never consumes the event)."""

    def __init__(self, widget) -> None:
        from PySide6.QtCore import QEvent, QObject

        outer = self

        class Filter(QObject):
            def eventFilter(self, watched, event):  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.Paint:
                    outer.count += 1
                return False

        self.count = 0
        self.filter = Filter()
        widget.installEventFilter(self.filter)

    def wait(self, after: int, timeout_s: float = 10.0) -> bool:
        """Process events until a Paint after `after` has been handled (processEvents returns after it)."""
        from PySide6.QtWidgets import QApplication

        deadline = time.perf_counter() + timeout_s
        while self.count <= after:
            if time.perf_counter() > deadline:
                return False
            QApplication.processEvents()
        return True


def _emit(result: dict) -> None:
    print(RESULT + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------- launch (child)
def child_launch() -> None:
    """As main.py without arguments: QApplication, theme, MainWindow, the sample story, show, exec."""
    marks = {"child_start": time.time()}
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    marks["pyside_imported"] = time.time()
    import storyboard.app as app_module
    import storyboard.main_window  # noqa: F401 - what app.main imports; timed here as import time

    marks["storyboard_imported"] = time.time()
    from PySide6.QtCore import QSettings

    # Made here only so the watcher can be installed first; main() then reuses it (and applies the theme).
    app = QApplication([sys.argv[0]])
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      tempfile.mkdtemp(prefix="app-bench-settings-"))
    marks["qapplication"] = time.time()

    class FirstPaint(QObject):
        def eventFilter(self, watched, event):  # noqa: N802
            kind = event.type()
            if isinstance(watched, QMainWindow):
                if kind == QEvent.Type.Show and "shown" not in marks:
                    marks["shown"] = time.time()
                elif kind == QEvent.Type.Paint and "first_paint" not in marks:
                    marks["first_paint"] = time.time()
                    # The rest of the window paints in the same pass; the timer runs after it.
                    QTimer.singleShot(0, lambda: (marks.__setitem__("frame_done", time.time()), app.quit()))
            return False

    watcher = FirstPaint()
    app.installEventFilter(watcher)
    QTimer.singleShot(15_000, app.quit)
    app_module.main([])
    app.removeEventFilter(watcher)
    _emit(marks)


def run_launch(runs: int) -> list[dict]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="0")
    out = []
    for _ in range(runs):
        start = time.time()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "launch"],
                              capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        marks = _result(proc)
        out.append({k: v - start for k, v in marks.items()})
    return out


# ---------------------------------------------------------------------------- open and drag (child)
def make_project(folder: Path, shots: int, with_takes: bool, clip: Path | None, keyframe: Path | None) -> Path:
    from storyboard.memory import memory_for
    from storymem_engine.project import Project
    from storymem_engine.story import Shot, Story, Take

    story = Story(name=f"{shots} shots")
    for i in range(shots):
        story.shots.append(Shot(prompt=f"Shot {i + 1}: a street musician plays on a busy corner as people pass, "
                                       f"the camera pans slowly from the guitar case to his face.",
                                cut=i % 4 == 0, scene_num=i // 12 + 1, id=f"s{i:04d}"))
    project = Project(folder=folder, story=story)
    if with_takes:
        for i, shot in enumerate(story.shots):
            take_dir = folder / "takes" / shot.id / "t0"
            take_dir.mkdir(parents=True)
            _link(clip, take_dir / "clip.mp4")
            for n in range(2):
                _link(keyframe, take_dir / f"keyframe_{n}.png")
            rel = f"takes/{shot.id}/t0"
            keys = [k.key for k in memory_for(story, i)]  # what the director records: the take is current
            mode = "t2v" if i == 0 else ("m2v" if shot.cut else "mi2v")
            shot.takes.append(Take(id=f"t{i:04d}", request={"mode": mode, "memory_keys": keys, "num_frames": 17},
                                   clip=f"{rel}/clip.mp4", keyframes=[f"{rel}/keyframe_{n}.png" for n in range(2)],
                                   frames=17, engine="Wan2.2 A14B + StoryMem"))
            shot.accepted_take = f"t{i:04d}"
    project.save()
    return folder


def _settle(done, timeout_s: float = 5.0) -> None:
    """Run the event loop until ``done()`` (a background decode arrived) or the timeout."""
    from PySide6.QtCore import QCoreApplication

    deadline = time.perf_counter() + timeout_s
    while not done() and time.perf_counter() < deadline:
        QCoreApplication.processEvents()
        time.sleep(0.002)


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        import shutil

        shutil.copyfile(source, target)


def child_ui(args) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    tmp = Path(tempfile.mkdtemp(prefix="app-bench-"))
    app = _qt_setup(str(tmp / "settings"))
    from PySide6.QtGui import QImage

    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow
    from storymem_engine.video import write_video

    # One real 832x480 clip and keyframe, hard-linked into every take (decoding cost is per file read).
    width, height = 832, 480
    yy, xx = np.mgrid[0:height, 0:width]
    frames = np.stack([np.stack([(xx + 8 * f) % 256, (yy * 2) % 256, (xx ^ yy) % 256], -1).astype(np.uint8)
                       for f in range(17)])
    clip = tmp / "clip.mp4"
    write_video(clip, frames, fps=16)
    keyframe = tmp / "keyframe.png"
    QImage(frames[0].data, width, height, 3 * width, QImage.Format.Format_RGB888).save(str(keyframe))

    label = VARIANTS[args.variant]
    projects = {label: make_project(tmp / f"{args.variant}.storymem", args.shots, args.variant == "takes", clip,
                                    keyframe)}
    window = MainWindow(AppSettings())
    window.files.open_sample()
    window.show()
    viewport = window.timeline.viewport()
    painted = _Painted(viewport)
    painted.wait(0)
    results: dict = {"shots": args.shots, "open": {}, "drag": {}}

    rng = np.random.default_rng(0)
    for label, folder in projects.items():
        # Open: alternate with the sample so each open replaces a different project, as a user's would.
        opens = []
        for _ in range(args.opens):
            window.files.open_sample()
            painted.wait(painted.count)
            before = painted.count
            start = time.perf_counter()
            ok = window.files.open_path(folder)
            returned = time.perf_counter()
            painted.wait(before)
            opens.append({"ok": ok, "open_path": returned - start, "painted": time.perf_counter() - start})
        results["open"][label] = opens

        # Drag: drops between visible cards, the destination computed from x as dropEvent does.
        view, model, stack = window.timeline, window.model, window.undo_stack
        drops, undos, index_times, no_paint = [], [], [], 0
        for _ in range(args.moves):
            src = int(rng.integers(0, args.shots - 1))
            view.scrollTo(model.index(src))
            painted.wait(painted.count, timeout_s=1.0)
            offset = int(rng.choice([-4, -3, -2, 2, 3, 4, 5]))
            dest = min(max(src + offset, 0), args.shots)
            target = model.index(min(dest, args.shots - 1))
            rect = view.visualRect(target)
            x = rect.left() + 2 if dest < args.shots else rect.right()
            shot_id = model.shot_at(src).id
            # A real drag starts with a press on the card, which selects it: the preview loads its clip
            # while the hand moves. Do the same before timing the drop, so a drop does not pay for it.
            window.edits.select_shots([shot_id])
            _settle(lambda: not window.preview.player.loading)
            painted.wait(painted.count, timeout_s=1.0)
            before = painted.count
            start = time.perf_counter()
            row = view.insertion_row(x)
            index_times.append(time.perf_counter() - start)
            view.move_requested.emit([shot_id], row)
            if not painted.wait(before, timeout_s=2.0):
                no_paint += 1
            drops.append(time.perf_counter() - start)
            before = painted.count
            start = time.perf_counter()
            stack.undo()
            if not painted.wait(before, timeout_s=2.0):
                no_paint += 1
            undos.append(time.perf_counter() - start)
        # insertion_row at the far end of the strip: its loop walks every card to the left of the cursor.
        view.scrollTo(model.index(args.shots - 1))
        painted.wait(painted.count, timeout_s=1.0)
        far = view.visualRect(model.index(args.shots - 1))
        start = time.perf_counter()
        for _ in range(20):
            view.insertion_row(far.left() + 2)
        far_index = (time.perf_counter() - start) / 20
        results["drag"][label] = {"drop": drops, "undo": undos, "index": index_times, "no_paint": no_paint,
                                  "index_far": far_index}
        results.setdefault("edit", {})[label] = _edit_every_shot(window, painted, args.opens)
    window.undo_stack.setClean()
    window.close()
    _emit(results)
    del app


def _edit_every_shot(window, painted, runs: int) -> dict:
    """Every shot selected, one inspector setting changed (one command over all of them), until painted; and,
    side by side, the same change as one command per shot in a macro (what it cost before the batched command)."""
    from storyboard.undo_commands import EditShotCommand

    window.timeline.selectAll()
    painted.wait(painted.count, timeout_s=1.0)
    spin, stack, model = window.inspector.frames, window.undo_stack, window.model
    ids = [shot.id for shot in model.shots]
    timings: dict[str, list[float]] = {"one command": [], "a command per shot": []}
    for n in range(runs):
        frames = 49 + 4 * n
        for way in timings:
            before = painted.count
            start = time.perf_counter()
            if way == "one command":
                spin.setValue(frames)
            else:
                stack.beginMacro("per shot")
                for shot_id in ids:
                    stack.push(EditShotCommand(model, shot_id, "frames", frames))
                stack.endMacro()
            painted.wait(before, timeout_s=30.0)
            timings[way].append(time.perf_counter() - start)
            assert all(shot.frames == frames for shot in model.shots)
            stack.undo()
            painted.wait(painted.count, timeout_s=30.0)
    return timings


# ---------------------------------------------------------------------------- stall (child)
class StallSampler:
    """A Python thread that, while the UI thread's ticks are late, samples what the generation worker runs.

    It needs the GIL to take a sample, so a worker that holds the GIL without a break (an extension
    module's import) shows up late, as the first line after the break.
    """

    def __init__(self, late_s: float = 0.03, every_s: float = 0.005) -> None:
        self.late_s, self.every_s = late_s, every_s
        self.samples: list[tuple[float, float, str]] = []  # (time, lateness of the UI thread, worker's place)
        self._last = time.perf_counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        self._last = time.perf_counter()

    def start(self) -> None:
        self.samples = []
        self._last = time.perf_counter()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stall-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        import traceback

        ui = threading.main_thread().ident
        while not self._stop.wait(self.every_s):
            now = time.perf_counter()
            late = now - self._last
            if late < self.late_s:
                continue
            for ident, frame in sys._current_frames().items():
                if ident in (ui, threading.get_ident()):
                    continue
                stack = traceback.extract_stack(frame)
                if not any(f.filename.endswith(("storyboard/worker.py", "frame_loader.py")) for f in stack):
                    continue
                ours = [f for f in stack if "/storymem_engine/" in f.filename or "/storyboard/" in f.filename]
                inner = stack[-1]
                where = f"{Path(inner.filename).name}:{inner.lineno} {inner.name}"
                if ours:
                    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno} {ours[-1].name} > {where}"
                self.samples.append((now, late, where))

    def during(self, start: float, end: float) -> list[tuple[str, int]]:
        """The worker places sampled in [start, end + a little], most frequent first."""
        from collections import Counter

        counts = Counter(w for t, _late, w in self.samples if start <= t <= end + 0.05)
        return counts.most_common(3)

    def summary(self, late_s: float) -> list[tuple[str, int]]:
        """Where the worker was, over every sample taken while the UI thread was later than late_s."""
        from collections import Counter

        return Counter(w for _t, late, w in self.samples if late >= late_s).most_common(6)


def child_stall(args) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    events: list[tuple[float, float, str]] = []  # (start, end, what) for UI-thread events over 2 ms
    ui_thread = threading.get_ident()
    ticker: list = [None]

    class TimedApp(QApplication):
        """Times every event delivered on the UI thread (a few microseconds each: same for every event)."""

        def notify(self, receiver, event):  # noqa: D401 - Qt's name
            if threading.get_ident() != ui_thread:
                return super().notify(receiver, event)  # the worker thread's own events
            start = time.perf_counter()
            try:
                return super().notify(receiver, event)
            finally:
                end = time.perf_counter()
                if end - start > 0.002:
                    kind = event.type()
                    name = getattr(kind, "name", str(kind))
                    who = type(receiver).__name__
                    obj = receiver.objectName() if hasattr(receiver, "objectName") else ""
                    if receiver is ticker[0]:
                        who = "the bench's 5 ms ticker (a Python slot: long = it waited for the GIL or a CPU)"
                    elif hasattr(receiver, "parent") and receiver.parent() is not None:
                        who += f" of {type(receiver.parent()).__name__}"
                    events.append((start, end, f"{name} -> {who}{f' {obj!r}' if obj else ''}"))

    tmp = Path(tempfile.mkdtemp(prefix="app-bench-stall-"))
    app = _qt_setup(str(tmp / "settings"), TimedApp)
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)  # the generation log goes to a test location
    from storyboard.app_settings import AppSettings
    from storyboard.main_window import MainWindow
    from storymem_engine.project import Project
    from storymem_engine.story import Shot, Story
    story = Story(name="Stall", shots=[
        Shot(prompt="a lighthouse at dusk, waves below", cut=True, scene_num=1),
        Shot(prompt="waves hit the rocks under the lighthouse", scene_num=1),
        Shot(prompt="a gull lands on the lighthouse rail", scene_num=1),
    ][: args.stall_shots])
    folder = tmp / "stall.storymem"
    Project(folder=folder, story=story).save()
    settings = AppSettings()
    settings.engine, settings.default_size = "tiny", args.stall_size
    settings.default_frames, settings.default_steps = args.stall_frames, args.stall_steps
    window = MainWindow(settings)
    assert window.files.open_path(folder)
    window.show()
    painted = _Painted(window.timeline.viewport())
    painted.wait(0)

    runs = []
    signals: list[tuple[float, str]] = []  # (time, worker signal), logged right after the controller handled it
    watchdog = StallSampler()

    def log(text: str) -> None:
        signals.append((time.perf_counter(), text))

    for run in ("cold", "warm")[: args.stall_runs]:
        ticks: list[float] = []
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(5)
        ticker[0] = timer
        timer.timeout.connect(lambda ticks=ticks: (ticks.append(time.perf_counter()), watchdog.tick()))
        signals.clear()
        events.clear()
        watchdog.start()
        timer.start()
        start = time.perf_counter()
        assert window.generation.generate_all()
        if run == "cold":
            # Connected after the controller's own slots (the worker exists from the first queue on).
            worker = window.generation.worker.worker
            worker.started_shot.connect(lambda sid: log(f"started_shot {sid}"))
            worker.progress.connect(lambda sid, step, total, phase, *_: log(f"progress {sid} {phase} {step}/{total}"))
            worker.take_ready.connect(lambda sid, _take: log(f"take_ready {sid}"))
            worker.queue_finished.connect(lambda: log("queue_finished"))
        # The app's own event loop (exec), left when the queue is done.
        loop = QEventLoop()
        deadline = start + args.stall_timeout
        poll = QTimer()
        poll.timeout.connect(lambda loop=loop, deadline=deadline: loop.quit()
                             if not window.generation.busy or time.perf_counter() > deadline else None)
        poll.start(50)
        loop.exec()
        poll.stop()
        finished = not window.generation.busy
        end = time.perf_counter()
        timer.stop()
        watchdog.stop()
        gaps = [(b - a, a, b) for a, b in zip(ticks, ticks[1:], strict=False)]
        worst = max(gaps) if gaps else (0.0, start, start)
        around = sorted((e for e in events if e[0] < worst[2] and e[1] > worst[1]), key=lambda e: e[0] - e[1])[:4]
        phase = next((text for t, text in reversed(signals) if t <= worst[1]), "before the first signal")
        top = sorted(gaps, reverse=True)[:5]
        runs.append({
            "run": run, "finished": finished, "seconds": end - start, "ticks": len(ticks),
            "gaps": sorted(g[0] for g in gaps),
            "worst": {"gap": worst[0], "at": worst[1] - start, "last_signal": phase,
                      "events": [(e[1] - e[0], e[0] - start, e[2]) for e in around],
                      "worker": watchdog.during(worst[1], worst[2])},
            "stalled_in": watchdog.summary(0.05),
            "top": [(g[0], g[1] - start) for g in top],
            "takes": sum(1 for s in window.project.story.shots if s.accepted() is not None),
        })
    window.generation.stop()
    window.undo_stack.setClean()
    window.close()
    _emit({"torch_in_editor": "torch" in sys.modules, "size": args.stall_size, "frames": args.stall_frames,
           "steps": args.stall_steps,
           "shots": args.stall_shots, "runs": runs, "failures": window.generation.failures})
    del app


# ---------------------------------------------------------------------------- parent
def _result(proc: subprocess.CompletedProcess) -> dict:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(RESULT):])


def _child(part: str, args, timeout: int) -> dict | None:
    """Run one part in a fresh process; None (after printing why) when it crashed or failed."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", part]
    for key in ("variant", "shots", "opens", "moves", "stall_size", "stall_frames", "stall_steps", "stall_shots",
                "stall_runs", "stall_timeout"):
        cmd += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    try:
        return _result(proc)
    except RuntimeError:
        lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("Extension modules")]
        fatal = [line for line in lines if "Fatal" in line or "Error" in line]
        what = f"{part}{f' ({VARIANTS[args.variant]})' if part == 'ui' else ''}"
        print(f"\n{what}: CHILD PROCESS FAILED (exit {proc.returncode}), no numbers: {fatal[-1] if fatal else ''}")
        current = next((i for i, line in enumerate(lines) if line.startswith("Current thread")), None)
        stack = lines[current:current + 12] if current is not None else lines[-12:]
        print("\n".join("    " + line for line in stack))
        return None


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "missed"


def report_launch(runs: list[dict]) -> None:
    rows = [
        ("python start -> bench child's first line", lambda r: r["child_start"]),
        ("import PySide6.QtWidgets", lambda r: r["pyside_imported"] - r["child_start"]),
        ("import storyboard.app + main_window", lambda r: r["storyboard_imported"] - r["pyside_imported"]),
        ("QApplication", lambda r: r["qapplication"] - r["storyboard_imported"]),
        ("theme, MainWindow, sample story (to Show)", lambda r: r["shown"] - r["qapplication"]),
        ("Show -> first Paint of the main window", lambda r: r["first_paint"] - r["shown"]),
        ("process start -> first Paint (total)", lambda r: r["first_paint"]),
        ("process start -> first frame painted", lambda r: r["frame_done"]),
    ]
    print(f"\nlaunch to first paint ({len(runs)} fresh processes, sample story, 1440x900, "
          f"QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM')})")
    print(f"{'stage':<44}{'median ms':>11}{'min ms':>9}{'max ms':>9}")
    for label, get in rows:
        values = [get(r) for r in runs]
        print(f"{label:<44}{_ms(statistics.median(values)):>11}{_ms(min(values)):>9}{_ms(max(values)):>9}")
    imports = statistics.median([r["storyboard_imported"] - r["child_start"] for r in runs])
    total = statistics.median([r["first_paint"] for r in runs])
    print(f"import time (PySide6 + storyboard), median: {_ms(imports)} ms")
    print(f"launch to first paint, median: {_ms(total)} ms (goal <= {_ms(GOALS['launch'])} ms: "
          f"{_verdict(total, GOALS['launch'])})")


def report_ui(result: dict) -> None:
    n = result["shots"]
    print(f"\nopen a {n}-shot project: files.open_path() until the timeline has painted")
    print(f"{'project':<26}{'open_path ms':>14}{'to painted ms (runs)':>34}{'median ms':>11}  goal")
    for label, runs in result["open"].items():
        painted = [r["painted"] for r in runs]
        med = statistics.median(painted)
        print(f"{label:<26}{_ms(statistics.median([r['open_path'] for r in runs])):>14}"
              f"{' '.join(_ms(p) for p in painted):>34}{_ms(med):>11}  <= {_ms(GOALS['open'])} ms: "
              f"{_verdict(med, GOALS['open'])}")
    print(f"\ndrag reorder in the {n}-shot timeline: drop (insertion_row + move_requested -> EditController.move "
          f"-> undo stack) until painted; Undo until painted")
    print(f"{'project':<26}{'action':<8}{'moves':>6}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}  goal")
    for label, d in result["drag"].items():
        for action in ("drop", "undo"):
            values = d[action]
            med = statistics.median(values)
            goal = f"<= {_ms(GOALS['drag'])} ms: {_verdict(med, GOALS['drag'])} (median), " \
                   f"{_verdict(max(values), GOALS['drag'])} (max)"
            print(f"{label:<26}{action:<8}{len(values):>6}{_ms(med):>11}{_ms(_pct(values, 0.95)):>9}"
                  f"{_ms(max(values)):>9}  {goal}")
        print(f"{label:<26}{'':<8}insertion_row(x): median {_ms(statistics.median(d['index']))} ms near the "
              f"dragged card, {_ms(d['index_far'])} ms at the end of the strip (per drag-move event); "
              f"drops without a repaint: {d['no_paint']}")
    if result.get("edit"):
        print(f"\nFrames set with all {n} shots selected (the inspector), until painted; side by side: the same "
              "change as one command per shot")
        print(f"{'project':<26}{'way':<20}{'median ms':>11}  ratio   goal")
        for label, ways in result["edit"].items():
            one = statistics.median(ways["one command"])
            for way, values in ways.items():
                med = statistics.median(values)
                goal = f"<= {_ms(GOALS['edit'])} ms: {_verdict(med, GOALS['edit'])}" if way == "one command" else ""
                print(f"{label:<26}{way:<20}{_ms(med):>11}  {med / one:>5.1f}x  {goal}")


def report_stall(result: dict) -> None:
    print(f"\nUI-thread stalls while generate_all() runs the tiny engine: {result['shots']} shots, {result['size']}, "
          f"{result['frames']} frames, {result['steps']} steps; torch loaded in the editor process: "
          f"{'yes' if result['torch_in_editor'] else 'no (engine process)'}; "
          "a 5 ms PreciseTimer on the UI thread")
    print(f"{'queue':<6}{'s':>7}{'ticks':>7}{'median gap ms':>15}{'p99 ms':>9}{'max ms':>9}{'gaps>50ms':>11}"
          f"{'takes':>7}  goal (max)")
    for r in result["runs"]:
        gaps = r["gaps"] or [0.0]
        print(f"{r['run']:<6}{r['seconds']:>7.1f}{r['ticks']:>7}{_ms(statistics.median(gaps)):>15}"
              f"{_ms(_pct(gaps, 0.99)):>9}{_ms(max(gaps)):>9}{sum(g > 0.05 for g in gaps):>11}{r['takes']:>7}"
              f"  <= {_ms(GOALS['stall'])} ms: {_verdict(max(gaps), GOALS['stall'])}"
              f"{'' if r['finished'] else ' (queue did not finish in time)'}")
    for r in result["runs"]:
        w = r["worst"]
        print(f"longest stall, {r['run']} queue: {_ms(w['gap'])} ms at {w['at']:.2f}s; last worker signal before it: "
              f"{w['last_signal']}")
        for duration, at, what in w["events"]:
            print(f"    UI-thread event {_ms(duration)} ms at {at:.2f}s: {what}")
        if not w["events"]:
            print("    no UI-thread event ran longer than 2 ms in it: the UI thread was waiting for the GIL or a CPU")
        for where, count in w["worker"]:
            print(f"    generation worker sampled in it: {where} ({count}x)")
        if r["stalled_in"]:
            print(f"    all samples while the UI thread was > 50 ms late ({r['run']} queue), most frequent first:")
            for where, count in r["stalled_in"]:
                print(f"      {count:>4}x {where}")
        print("    next longest gaps: " + ", ".join(f"{_ms(g)} ms at {a:.1f}s" for g, a in r["top"][1:]))
    if result["failures"]:
        print(f"generation failures: {result['failures']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="launch,open,stall", help="launch,open,stall (open includes drag)")
    parser.add_argument("--quick", action="store_true", help="small sizes and counts: checks the script")
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--variants", default="plain,takes", help="projects to open and drag in: plain (no takes), "
                        "takes (every shot with an accepted take)")
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--opens", type=int, default=3)
    parser.add_argument("--moves", type=int, default=50)
    parser.add_argument("--stall-size", default="832x480")
    parser.add_argument("--stall-frames", type=int, default=17)
    parser.add_argument("--stall-steps", type=int, default=2)
    parser.add_argument("--stall-shots", type=int, default=3)
    parser.add_argument("--stall-runs", type=int, default=2, help="1: cold queue only; 2: cold then warm")
    parser.add_argument("--stall-timeout", type=float, default=900)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="plain", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.child == "launch":
        child_launch()
        return 0
    if args.child == "ui":
        child_ui(args)
        return 0
    if args.child == "stall":
        child_stall(args)
        return 0
    # The children's projects, clips and settings go in one folder removed at the end, a crashed child's too.
    with tempfile.TemporaryDirectory(prefix="app-bench-") as scratch:
        os.environ["TMPDIR"] = scratch
        tempfile.tempdir = None  # read TMPDIR again
        return run_parts(args)


def run_parts(args) -> int:
    if args.quick:
        args.launches, args.shots, args.opens, args.moves = 1, 60, 1, 5
        args.stall_size, args.stall_frames, args.stall_steps, args.stall_shots, args.stall_runs = "64x48", 9, 2, 2, 1
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    import platform

    import PySide6

    print(f"app bench: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python "
          f"{platform.python_version()}, PySide6 {PySide6.__version__} ({Path(PySide6.__file__).parent}), "
          f"QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']}", flush=True)
    if "launch" in parts:
        report_launch(run_launch(args.launches))
    failed = False
    if "open" in parts or "drag" in parts:
        merged: dict = {"shots": args.shots, "open": {}, "drag": {}}
        for variant in args.variants.split(","):  # one process per project: a crash leaves the other's numbers
            args.variant = variant
            result = _child("ui", args, timeout=900)
            failed |= result is None
            if result is not None:
                merged["open"].update(result["open"])
                merged["drag"].update(result["drag"])
                merged.setdefault("edit", {}).update(result.get("edit", {}))
        if merged["open"]:
            report_ui(merged)
    if "stall" in parts:
        # The tiny models are built (once per cache, as the app's first tiny run does) in a separate process,
        # so the measured queue's time is the engine process's start and model loading, as in the app.
        subprocess.run([sys.executable, "-c", "from storymem_engine.tiny import ensure_tiny_models as e; e()"],
                       cwd=ROOT, check=True, capture_output=True, timeout=600)
        result = _child("stall", args, timeout=int(args.stall_timeout) + 300)
        failed |= result is None
        if result is not None:
            report_stall(result)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
