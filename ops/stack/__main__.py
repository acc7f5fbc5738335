import sys

from ops.stack.cli import main

sys.exit(main())
