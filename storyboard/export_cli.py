"""``main.py export PROJECT --format F --out FILE``: any export of the app, headless, from a project folder.

The same writers as File > Export (film_export, shot_list_csv, timeline_export, pdf_storyboard). Shots without
their own length last as long as the project's render settings say (the app's film export does the same).
Every problem is one ``error: ...`` line and exit status 2 (bad input) or 1 (the file could not be written);
never a traceback. Torch is never imported: exports need no model.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import NoReturn

FORMATS = ("mp4", "csv", "otio", "fcp7", "fcpx", "edl", "pdf")
SUFFIXES = {"mp4": ".mp4", "csv": ".csv", "otio": ".otio", "fcp7": ".xml", "fcpx": ".fcpxml", "edl": ".edl",
            "pdf": ".pdf"}
TIMELINES = ("otio", "fcp7", "fcpx", "edl")
# Each option and the formats it changes: given with another format it would be silently left out.
OPTION_FORMATS = {"burn_in": ("mp4",), "empty_shots": TIMELINES, "collect_media": TIMELINES, "layout": ("pdf",),
                  "page_size": ("pdf",)}
BAD_INPUT, WRITE_FAILED = 2, 1
_APP: list[object] = []  # the QGuiApplication, kept alive while painting


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, like every other export error (argparse would print the whole usage first).
        print(f"error: {message} (see main.py export --help)", file=sys.stderr)
        raise SystemExit(BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="main.py export", description="Write a film, shot list, timeline or PDF storyboard "
                                                        "from a project folder, as File > Export does.")
    parser.add_argument("project", help="the project folder (<name>.storymem)")
    parser.add_argument("--format", required=True, choices=FORMATS,
                        help="mp4 film, csv shot list, otio / fcp7 (FCP 7 XML) / fcpx (FCP X XML) / edl "
                             "(CMX 3600) timeline, pdf storyboard")
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--force", action="store_true", help="replace --out when it exists")
    parser.add_argument("--empty-shots", choices=("gap", "card"),
                        help="timelines: a shot without a take becomes a gap (default) or its animatic card clip")
    parser.add_argument("--collect-media", action="store_true",
                        help="timelines: copy the clips into <out name>_media/ beside the file and point there")
    parser.add_argument("--layout", choices=("landscape", "portrait"),
                        help="pdf: 3x2 panels on landscape pages (default) or 2x3 on portrait pages")
    parser.add_argument("--page-size", choices=("A4", "Letter"), help="pdf: paper (default A4)")
    parser.add_argument("--burn-in", action="store_true",
                        help="mp4: a review copy, each frame labelled with its shot, take and timecode")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _export(args)
    except _Failed as failed:
        print(f"error: {failed.message}", file=sys.stderr)
        return failed.status
    except Exception as exc:  # noqa: BLE001 - a headless tool answers in one line, never a traceback
        print(f"error: export failed ({type(exc).__name__}: {str(exc)[:300]})", file=sys.stderr)
        return WRITE_FAILED


class _Failed(Exception):
    def __init__(self, message: str, status: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _export(args: argparse.Namespace) -> int:
    from storymem_engine.project import PROJECT_FILE, ProjectError, is_project_file, load_project
    from storymem_engine.render_settings import RenderSettings

    folder, out = Path(args.project), Path(args.out)
    for option, formats in OPTION_FORMATS.items():
        if getattr(args, option) not in (None, False) and args.format not in formats:
            flag = "--" + option.replace("_", "-")
            raise _Failed(f"{flag} is for --format {' / '.join(formats)}, not {args.format}: it would be left out")
    args.empty_shots, args.layout, args.page_size = (args.empty_shots or "gap", args.layout or "landscape",
                                                     args.page_size or "A4")
    other = next((f for f, suffix in SUFFIXES.items() if out.suffix.lower() == suffix and f != args.format), None)
    if other is not None:  # an MP4 in a file named .otio opens in nothing
        raise _Failed(f"{out} is named as {other}, but --format is {args.format}: name it "
                      f"{out.with_suffix(SUFFIXES[args.format]).name}, or choose --format {other}")
    if not folder.is_dir():
        raise _Failed(f"{folder} is not a project folder")
    if not (folder / PROJECT_FILE).is_file():
        raise _Failed(f"{folder} is not a project folder (no {PROJECT_FILE} in it)")
    if is_project_file(out):  # even with --force: the project would not open again
        raise _Failed(f"{out} is a StoryMem project's own file; --out names another file")
    try:
        out.exists()
    except OSError as exc:  # a name too long for the file system
        raise _Failed(f"cannot write {out.name[:60]}…: {exc.strerror or exc}") from None
    if out.is_dir():
        raise _Failed(f"{out} is a folder; --out names the file to write")
    if out.exists() and not args.force:
        raise _Failed(f"{out} exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise _Failed(f"cannot write {out}: the folder {out.parent} does not exist")
    try:
        project = load_project(folder)
    except ProjectError as exc:
        raise _Failed(str(exc)) from None
    settings = project.settings or RenderSettings()
    try:
        message = _write(project, args, out, settings)
    except OSError as exc:
        raise _Failed(f"could not write {out}: {exc.strerror or exc}; any existing file is unchanged",
                      WRITE_FAILED) from None
    print(message)
    return 0


def _write(project, args: argparse.Namespace, out: Path, settings) -> str:
    if args.format == "csv":
        from storyboard.memory import bank_frozen
        from storyboard.shot_list_csv import write_shot_list
        from storyboard.shot_status import clip_missing_on_disk, shot_status

        story = project.story
        with bank_frozen(story):  # the bank checked once, not once per shot
            statuses = [shot_status(story, i, {}, settings.memory_size, settings.memory_sink,
                                    lambda take: clip_missing_on_disk(project, take), settings.continuation)
                        for i in range(len(story.shots))]
        write_shot_list(story, statuses, out, settings.frames)
        return f"wrote {out} ({len(statuses)} shots)"
    if args.format in ("mp4", "pdf") or args.empty_shots == "card":
        _gui_application()  # animatic cards and the PDF paint with Qt (offscreen); plain timelines need no Qt
    if args.format == "mp4":
        return _film(project, out, settings, args.burn_in)
    if args.format == "pdf":
        from storyboard.handoff import HandoffError
        from storyboard.pdf_storyboard import PdfError, PdfOptions, export_pdf

        try:
            pages = export_pdf(project, out, PdfOptions(args.layout, args.page_size), settings.frames)
        except (HandoffError, PdfError) as exc:
            raise _Failed(str(exc)) from None
        return f"wrote {out} ({pages} pages)"
    return _timeline(project, args, out, settings)


def _film(project, out: Path, settings, burn_in: bool = False) -> str:
    from storyboard.film_export import FilmError, plan_export, write_film
    from storyboard.shot_numbers import cards_note

    try:
        from storymem_engine.video import VideoError
    except ImportError as exc:
        raise _Failed(f"video writing is not available in this build ({exc})") from None
    try:
        plan = plan_export(project, settings.frames, settings.size)
        frames = write_film(plan, out, progress=_FilmProgress(plan.frames), burn_in=burn_in)
    except (FilmError, VideoError) as exc:
        raise _Failed(str(exc)) from None
    music = f", with the soundtrack {project.story.soundtrack.name}" if plan.audio is not None else ""
    # As the timelines say "2 clips, 5 gaps".
    carded = cards_note(plan.card_rows)
    return f"wrote {out} ({frames} frames at 16 fps{music}){carded}"


class _FilmProgress:
    """A line on stderr every EVERY_S while the film encodes (a real 12-shot film takes about a minute): the job is
    seen alive in a terminal or a log, and stdout keeps only the result line."""

    EVERY_S = 10.0

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = self.said = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.said >= self.EVERY_S and done < self.total:
            self.said = now
            print(f"writing frame {done}/{self.total} ({now - self.started:.0f}s)", file=sys.stderr, flush=True)


def _timeline(project, args: argparse.Namespace, out: Path, settings) -> str:
    from storyboard.handoff import HandoffError
    from storyboard.timeline_export import TimelineOptions, export_timeline

    errors: tuple[type[BaseException], ...] = (HandoffError,)
    try:
        from storymem_engine.video import VideoError

        errors += (VideoError,)
    except ImportError:
        pass
    try:
        result = export_timeline(project, out, TimelineOptions(args.format, args.empty_shots, args.collect_media),
                                 settings.frames, settings.size)
    except errors as exc:
        raise _Failed(str(exc)) from None
    extra = f", media in {result.media_folder}" if result.media_folder else ""
    music = result.remarks
    return f"wrote {out} ({result.clips} clips, {result.gaps} gaps, {result.cards} cards{extra}){music}"


def _gui_application() -> None:
    """A QGuiApplication for painting; headless unless the caller chose a platform."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        _APP.append(QGuiApplication(["storymem-export"]))
