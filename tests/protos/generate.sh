#!/usr/bin/env bash
# Regenerates tests/protos/target_pb2.py, target_pb2_grpc.py and target_pb2.pyi from target.proto.
# Needs grpcio-tools (a development dependency). Run from anywhere:  tests/protos/generate.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
cd "$root"
# -I . keeps the package path in the generated imports (from tests.protos import target_pb2).
"$python" -m grpc_tools.protoc -I . \
  --python_out=. --grpc_python_out=. --pyi_out=. \
  tests/protos/target.proto
echo "generated: tests/protos/target_pb2.py tests/protos/target_pb2_grpc.py tests/protos/target_pb2.pyi"
