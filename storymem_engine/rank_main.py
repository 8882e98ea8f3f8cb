"""What each rank of `render --gpus N` runs: the headless CLI (storymem_engine/multi_gpu.py tells the ranks apart)."""

import os
import sys

from storymem_engine.cli import main

if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Every file is written and closed by now. Skipping the interpreter's teardown skips c10d's destructor warnings
    # about a collective left in flight by a cancel or a lost peer: the user already has the one line that matters.
    os._exit(code)
