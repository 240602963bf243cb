import sys

from ecgscope.cli import main

sys.exit(main())
