import sys

from ops.slo.cli import main

sys.exit(main())
