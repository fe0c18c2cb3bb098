"""The GPU benchmark must stay runnable as it is: its smoke mode runs it end to end on the CPU."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_throughput_smoke_run_times_both_paths_and_passes_its_greedy_check():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_throughput.py"), "--tiny", "--device", "cpu",
         "--batch-sizes", "1", "3", "--seconds", "2", "--new-tokens", "6",
         "--check-seconds", "1", "--check-tokens", "4"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for batch in (1, 3):
        assert any(line.startswith(f"| {batch} | transformers | ") for line in lines)
        assert any(line.startswith(f"| {batch} | archivetag | ") for line in lines)
        assert any(line.startswith(f"| {batch} | speed-up | ") for line in lines)
    assert lines[-1].startswith("bf16 vs fp32 greedy check: PASS")
