"""The GUI entry point: ``main(argv)``; ``--screenshot OUT.png``, ``--selftest``, an optional project or story."""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

APP_ORG = "StoryMem"
APP_NAME = "StoryMem Studio"


# The headless commands main.py routes before the editor sees its arguments (main.py: HEADLESS_COMMANDS, export).
COMMANDS = ("info", "render", "export")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="main.py", description="StoryMem Studio: the storyboard editor (opens a window).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="headless commands (no window):\n"
               "  main.py info STORY.json               summarise a story script as JSON\n"
               "  main.py render STORY.json --out DIR   render a story shot by shot into a project folder\n"
               "                                        (main.py render --help lists every option)\n"
               "  main.py export PROJECT --format F --out FILE\n"
               "                                        a film, shot list, timeline or PDF storyboard, as\n"
               "                                        File > Export writes it (main.py export --help)")
    parser.add_argument("path", nargs="?", help="project folder (<name>.storymem), its project.json, "
                        "or a story script JSON to import; without it the sample story opens")
    parser.add_argument("--screenshot", metavar="OUT.png",
                        help="open the window, save a PNG of it once painted, and exit")
    parser.add_argument("--selftest", action="store_true",
                        help="generate one tiny shot through the app's real generation path (offscreen, "
                        "random-weight models, no downloads), print one line and exit 0 (ok) or 1 (failed)")
    args, unknown = parser.parse_known_args(argv)
    if args.path and not Path(args.path).exists():
        # "main.py rendr story.json": a misspelt command, not a file to open in the window.
        close = difflib.get_close_matches(args.path, COMMANDS, n=1, cutoff=0.6)
        if close:
            parser.error(f"{args.path!r} is neither a command nor a file: did you mean main.py {close[0]}?")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def display_problem() -> str:
    """Why no window can open here, in one line ("" when a display is there or a platform was chosen)."""
    import os

    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return ""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return ("no display found (DISPLAY and WAYLAND_DISPLAY are unset): run the editor on a desktop, under "
            "xvfb-run, or use the headless commands (main.py --help)")


def _quiet_offscreen_warnings() -> None:
    """The selftest's and the screenshot's one line of output, without the offscreen platform's "This plugin does
    not support raise()" notes (it has no window manager to ask); every other Qt message still goes to stderr."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_kind, _context, message: str) -> None:
        if not message.startswith("This plugin does not support"):
            print(message, file=sys.stderr)

    qInstallMessageHandler(handler)


def main(argv: list[str] | None = None) -> int:
    """Run the editor. ``argv`` are the arguments after the program name (default sys.argv[1:])."""
    args = parse_args(sys.argv[1:] if argv is None else list(argv))
    scratch = None
    if args.selftest:
        from storyboard.selftest import prepare_environment

        scratch = prepare_environment()  # before the QApplication: it picks the Qt platform
    from PySide6.QtWidgets import QApplication

    from storyboard import dialogs
    from storyboard.main_window import MainWindow
    from storyboard.shot_clipboard import keep_text_only
    from storyboard.theme import apply_dark_theme

    problem = display_problem()
    if problem and args.screenshot:
        import os

        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    elif problem and not args.selftest and QApplication.instance() is None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.selftest or args.screenshot:
        _quiet_offscreen_warnings()
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "storymem-studio"])
    app.setOrganizationName(APP_ORG)
    app.setApplicationName(APP_NAME)
    apply_dark_theme(app)
    app.aboutToQuit.connect(keep_text_only)
    if scratch is not None:
        from storyboard.selftest import isolate_settings, run_selftest

        isolate_settings(scratch)
        return run_selftest(scratch)
    if args.screenshot:
        dialogs.set_interactive(False)  # nothing may block a headless screenshot
    window = MainWindow()
    path = Path(args.path) if args.path else None
    if args.screenshot:  # nothing asked: the project given, else the sample
        from storyboard.screenshot import save_window_screenshot

        opened = window.files.open_path(path) if path else window.files.open_sample()
        ok = save_window_screenshot(window, Path(args.screenshot))
        window.close()
        if not opened:
            print(f"error: could not open {args.path}", file=sys.stderr)
            return 2
        return 0 if ok else 1
    window.files.open_at_start(path)
    from storyboard import window_geometry

    window_geometry.restore(window)
    window.show()
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
