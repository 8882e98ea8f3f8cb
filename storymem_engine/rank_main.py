"""What each rank of `render --gpus N` runs: the headless CLI (storymem_engine/multi_gpu.py tells the ranks apart)."""

import sys

from storymem_engine.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
