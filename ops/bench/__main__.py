import sys

from ops.bench.runner import main

sys.exit(main())
