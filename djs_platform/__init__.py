"""The platform layer: settings, auth, tenancy, errors, observability (apps build on it)."""
import os

# Every fork a DJS process makes is followed by exec (SHELL tasks, the supervisor's children). grpcio 1.78+
# runs its fork handlers by default; in a child forked while other threads are inside gRPC they fail on the
# parent's epoll descriptor and abort the child before exec ("killed by signal 6 ... Bad file descriptor",
# seen in make test). gRPC's documented switch for fork+exec is to disable them; it must be set before grpc
# is imported. An operator's explicit value wins.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
