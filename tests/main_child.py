"""`python main.py ARGS` as a process forked from the suite's forkserver (conftest.run_main).

A fresh interpreter spent ~7 s of each CLI test on 2 cores importing torch, diffusers and transformers before
main.py did anything; the forkserver imported them once. Everything after the imports is the user's run: its own
process, arguments, environment, working folder, stdout and stderr (files, not a terminal, as with a pipe), exit
code, and the exit functions a real interpreter runs at the end.
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback


def run(root: str, argv: list[str], environ: dict[str, str], cwd: str, out_path: str, err_path: str) -> None:
    os.environ.clear()
    os.environ.update(environ)
    os.chdir(cwd)
    for fd, path in ((1, out_path), (2, err_path)):
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(handle, fd)
        os.close(handle)
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.close(stdin)
    sys.argv = [os.path.join(root, "main.py"), *argv]
    sys.path.insert(0, root)
    code = 1
    try:
        import main

        code = main.main(list(argv))
    except SystemExit as exc:  # argparse's --help and usage errors, sys.exit(...) anywhere
        code = exc.code
    except BaseException:  # what the interpreter would print for an uncaught exception, and its exit code
        traceback.print_exc()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
