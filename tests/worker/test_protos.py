"""The generated stubs are current, and the protos keep containerd's names and numbers."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GEN = REPO / "src" / "bakec" / "worker" / "_gen"


def test_generated_code_is_current(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools not installed")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen-protos"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    fresh = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in GEN.iterdir() if p.suffix in (".py", ".pyi"))
    assert fresh == committed
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, GEN, fresh, shallow=False)
    assert not mismatch and not errors, (
        f"stale generated code: {mismatch + errors}; run scripts/gen-protos "
        "(with the grpcio-tools version the committed code names)"
    )


@pytest.mark.parametrize(
    ("module", "message", "field", "number"),
    [
        ("tasks_pb2", "CreateTaskRequest", "rootfs", 3),
        ("tasks_pb2", "CreateTaskRequest", "options", 9),
        ("tasks_pb2", "DeleteResponse", "exit_status", 3),
        ("diff_pb2", "DiffResponse", "diff", 3),
        ("types_pb2", "Descriptor", "annotations", 5),
        ("content_pb2", "Info", "labels", 5),
        ("content_pb2", "WriteContentRequest", "labels", 7),
        ("snapshots_pb2", "Info", "labels", 6),
        ("containers_pb2", "Container", "snapshot_key", 7),
        ("images_pb2", "Image", "created_at", 7),
        ("leases_pb2", "CreateRequest", "labels", 3),
        ("runc_pb2", "Options", "root", 7),
    ],
)
def test_field_numbers_match_containerd(module: str, message: str, field: str, number: int) -> None:
    mod = __import__(f"bakec.worker._gen.{module}", fromlist=[message])
    assert getattr(mod, message).DESCRIPTOR.fields_by_name[field].number == number


def test_service_paths_use_containerd_packages() -> None:
    from bakec.worker._gen import snapshots_pb2, tasks_pb2

    assert tasks_pb2.DESCRIPTOR.services_by_name["Tasks"].full_name == "containerd.services.tasks.v1.Tasks"
    assert snapshots_pb2.DESCRIPTOR.package == "containerd.services.snapshots.v1"
