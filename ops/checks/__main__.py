"""python -m ops.checks verify|drill [options]: the command's own options follow its name."""

import sys

from ops.checks import drill, verify

COMMANDS = {"verify": verify.main, "drill": drill.main}

if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
    print(f"usage: python -m ops.checks {{{','.join(COMMANDS)}}} [options]", file=sys.stderr)
    sys.exit(2)
sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
