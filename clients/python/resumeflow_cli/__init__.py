"""The `resumeflow` command line."""

import os

# gRPC's C core prints its own log lines to stderr (a taken port gets one before ours); a
# command line says what went wrong in one line of its own. Set GRPC_VERBOSITY to see them.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")
