import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))  # for `import oracles`

# A shell without job control starts background commands (`pytest ... &`, CI scripts run with `&`)
# with SIGINT ignored, and every child inherits the ignore: the tests that send Ctrl-C to a command
# would then see it run on.  Restore Python's handler here, so the children start with the default.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The suite's trainers share the cores among themselves only: trainers of the user's other commands
# on this machine (a study running in the background) would otherwise change their thread counts
# (search/cores.py), and with them the digits of tests that compare two runs.  A fresh registry
# for the session, inherited by every subprocess the tests start.
import tempfile  # noqa: E402

os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="designspace-test-registry-")
