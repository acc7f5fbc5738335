import sys

from ops.soak.run import main

sys.exit(main())
