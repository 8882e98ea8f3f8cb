"""StoryMem Studio entry point: the desktop app by default, `info` / `render` / `export` for headless use."""

from __future__ import annotations

import sys

HEADLESS_COMMANDS = ("info", "render")
# `export` writes what File > Export writes (film, shot list, timelines, PDF) with the app's own code.
EXPORT_COMMAND = "export"


# What a multi-GPU launcher starts as each rank: `<python> -m MODULE ...`. In a PyInstaller bundle the "python" is this
# executable, so it runs them the way the interpreter's -m would.
RANK_MODULES = ("storymem_engine.rank_main", "storymem_engine.group_rank")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) >= 2 and argv[0] == "-m" and argv[1] in RANK_MODULES:
        import runpy

        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)  # each ends the process itself (os._exit)
        return 0
    if argv and argv[0] == EXPORT_COMMAND:
        from storyboard.export_cli import main as export_main

        return export_main(argv[1:])
    if argv and argv[0] in HEADLESS_COMMANDS:
        from storymem_engine.cli import main as cli_main

        return cli_main(argv)
    from storyboard.app import main as app_main

    return app_main(argv)


if __name__ == "__main__":
    # The engine runs in a spawned child process: in a PyInstaller bundle the child is this same
    # executable, and freeze_support turns it into the engine before any argument parsing.
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())
