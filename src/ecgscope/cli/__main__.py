import sys

from ecgscope.cli import main

if __name__ == "__main__":  # not when a spawned worker process re-imports the parent's main module
    sys.exit(main())
