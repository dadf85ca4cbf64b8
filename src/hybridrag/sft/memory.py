"""Peak memory of a training run: CUDA's allocator peak on GPU, the process's peak RSS on CPU."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from transformers import TrainerCallback

CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def _read_high_water_mark_kb() -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status")


class PeakMemory:
    """Reset at the start of training, read at the end, so model loading does not count.

    On Linux the resident-set peak (VmHWM) is reset by writing 5 to /proc/self/clear_refs;
    elsewhere the process-lifetime peak (ru_maxrss) is reported and `kind` says so.
    """

    def __init__(self, device: str):
        self.device = device
        self.peak_mb: float | None = None
        self.kind = ("cuda_max_allocated" if device.startswith("cuda") else
                     "rss_high_water_mark" if CLEAR_REFS.exists() else "rss_process_peak")

    def start(self) -> None:
        if self.kind == "cuda_max_allocated":
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif self.kind == "rss_high_water_mark":
            CLEAR_REFS.write_text("5")

    def stop(self) -> float:
        if self.kind == "cuda_max_allocated":
            import torch

            peak_bytes = torch.cuda.max_memory_allocated()
        elif self.kind == "rss_high_water_mark":
            peak_bytes = _read_high_water_mark_kb() * 1024
        else:
            scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
            peak_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
        self.peak_mb = round(peak_bytes / 2**20, 1)
        return self.peak_mb

    def callback(self) -> TrainerCallback:
        meter = self

        class PeakMemoryCallback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
                meter.start()

            def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
                meter.stop()

        return PeakMemoryCallback()
