"""Run-wide settings: which device to use, quick mode, and the defaults decided once: image size, step
count, pooling and precision.

Quick mode (``NST_QUICK=1``, set by the test command) changes *only* numbers (image sizes and step
counts), never which code runs, so that CI exercises exactly the code a learner runs.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "NST_QUICK"
OUTPUT_ENV = "NST_OUTPUT_DIR"
DEVICE_ENV = "NST_DEVICE"

# Image long side and optimisation steps by device. On this course's reference CPU (2 cores) one
# VGG step costs ~0.2 s at 128 px and ~0.7 s at 256 px; a GPU takes tens of milliseconds a step at 512 px
# (jcjohnson/neural-style: 500 L-BFGS steps in about 30 s on a Pascal Titan X).
FULL_SIZE = {"cuda": 512, "mps": 384, "cpu": 256}
FULL_STEPS = {"cuda": 500, "mps": 300, "cpu": 150}
QUICK_SIZE = 64
QUICK_STEPS = 8

# Network options, decided here once (StyleTransfer, stylize and the command line read them).
POOLINGS = ("avg", "max")
POOLING = "avg"  # the paper's: "slightly more appealing results" than max pooling, Gatys et al. found
# "bf16" runs the convolutions in bfloat16 (autocast), for hardware with bf16 units (recent GPUs,
# CPUs with AVX512_BF16 or AMX); Gram matrices and losses stay float32 either way.
PRECISIONS = ("fp32", "bf16")
# From Python the same call gives the same numbers on every machine: fp32 unless asked. The command
# line picks by machine ("auto", see default_precision) and prints what it picked.
PRECISION = "fp32"
CLI_PRECISION = "auto"
BF16_EMULATED = ("this CPU has no bfloat16 units (or it cannot be told): bf16 is emulated and can be several "
                 "times slower than fp32 (about 9x in one probe)")


def quick_mode() -> bool:
    """True when ``NST_QUICK`` is set to 1/true/yes: small images and few steps."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full, quick):
    """Return ``quick`` in quick mode and ``full`` otherwise (used in notebooks' parameter cells)."""
    return quick if quick_mode() else full


def choose_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve ``"auto"`` (or None) to CUDA > MPS > CPU; ``NST_DEVICE`` overrides ``"auto"``.

    An explicit device that is not available raises a ValueError that says what is.
    """
    if device is None or str(device) == "auto":
        device = os.environ.get(DEVICE_ENV) or "auto"
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        where = f" (from the environment variable {DEVICE_ENV})" if os.environ.get(DEVICE_ENV) == str(device) else ""
        raise ValueError(f"unknown device {device!r}{where}: use auto, cpu, cuda, cuda:N or mps") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but this PyTorch sees no CUDA GPU: "
                         "use --device cpu (or auto)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r} was asked for, but MPS is not available: use cpu or auto")
    return dev


def default_size(device: str | torch.device | None = "auto") -> int:
    """Long side in pixels that gives a result within minutes on this device."""
    if quick_mode():
        return QUICK_SIZE
    return FULL_SIZE.get(choose_device(device).type, FULL_SIZE["cpu"])


def default_steps(device: str | torch.device | None = "auto") -> int:
    """Optimisation steps (network evaluations) for a finished-looking image on this device."""
    if quick_mode():
        return QUICK_STEPS
    return FULL_STEPS.get(choose_device(device).type, FULL_STEPS["cpu"])


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def output_dir() -> Path:
    """Where notebooks write images and animations: ``NST_OUTPUT_DIR``, else ``outputs/`` in the course
    folder (beside ``notebooks/``), else ``~/neural-style-outputs``. Never the working directory."""
    if os.environ.get(OUTPUT_ENV):
        path = Path(os.environ[OUTPUT_ENV]).expanduser()
    else:
        course = Path(__file__).resolve().parent.parent
        path = course / "outputs" if (course / "notebooks").is_dir() else Path.home() / "neural-style-outputs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def peak_memory_mb(device: str | torch.device = "cpu") -> float:
    """Peak memory so far, in MiB: PyTorch's allocations on a GPU, the process's resident set on a CPU
    (a high-water mark: it only grows, so measure sizes in increasing order). NaN where it cannot be
    told: test with ``math.isfinite`` before computing with it (``largest_square_side`` does)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows has no resource module: ask Windows for the peak working set
        return _windows_peak_memory_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _windows_peak_memory_mb() -> float:
    """The process's peak working set on Windows (GetProcessMemoryInfo), in MiB; NaN elsewhere or on failure."""
    try:
        import ctypes
        from ctypes import wintypes

        class Counters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS (psapi.h)
            _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD),
                        ("PeakWorkingSetSize", ctypes.c_size_t), ("WorkingSetSize", ctypes.c_size_t),
                        ("QuotaPeakPagedPoolUsage", ctypes.c_size_t), ("QuotaPagedPoolUsage", ctypes.c_size_t),
                        ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
                        ("QuotaNonPagedPoolUsage", ctypes.c_size_t), ("PagefileUsage", ctypes.c_size_t),
                        ("PeakPagefileUsage", ctypes.c_size_t)]

        counters = Counters()
        counters.cb = ctypes.sizeof(Counters)
        kernel32 = ctypes.windll.kernel32
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        if not kernel32.K32GetProcessMemoryInfo(kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb):
            return float("nan")
        return counters.PeakWorkingSetSize / 2**20
    except Exception:  # not Windows, or an old one: the peak cannot be told
        return float("nan")


def total_memory_mb(device: str | torch.device = "cpu") -> float | None:
    """All the memory of the device, in MiB (the GPU's, or the machine's RAM); None where it cannot be told."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory / 2**20
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return None


def largest_square_side(sizes, peaks_mb, total_mb: float | None, share: float = 0.8) -> tuple[float, int] | None:
    """Fit peak memory = a + b * pixels to measurements at square ``sizes`` (sides in px) and estimate the
    largest square side whose peak stays under ``share`` of ``total_mb``.

    Returns (MB per megapixel, largest side in px), or None when it cannot be estimated: fewer than two
    sizes, a peak that could not be measured (NaN, as on some systems), no known total, or memory that
    did not grow with the size. An estimate from the measurements, not a run at that size.
    """
    points = [(float(s) ** 2, float(m)) for s, m in zip(sizes, peaks_mb, strict=True)]
    if total_mb is None or len(points) < 2 or not all(np.isfinite(m) for _, m in points):
        return None
    pixels, memory = np.array([p for p, _ in points]), np.array([m for _, m in points])
    spread = ((pixels - pixels.mean()) ** 2).sum()
    if spread == 0:
        return None
    slope = ((pixels - pixels.mean()) * (memory - memory.mean())).sum() / spread
    intercept = memory.mean() - slope * pixels.mean()
    room = share * total_mb - intercept
    if not slope > 0 or not room > 0:
        return None
    return float(slope * 1e6), int((room / slope) ** 0.5)


def available_memory_mb(device: str | torch.device = "cpu") -> float | None:
    """Memory free for a new run, in MiB: the GPU's free memory, or on Linux the system's
    MemAvailable; None where it cannot be told (macOS, Windows, MPS)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] / 2**20
    if device.type != "cpu":
        return None
    available = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) / 2**10  # the file counts KiB
    except OSError:
        return None
    room = cgroup_room_mb()
    return room if available is None else available if room is None else min(available, room)


def cgroup_room_mb(root: Path = Path("/")) -> float | None:
    """Memory left under this process's container limit (cgroup v2, else v1), in MiB; None without one.
    In a container the limit is the cgroup's, not the host's memory that /proc/meminfo shows."""
    for limit_file, usage_file in (("sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory.current"),
                                   ("sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit, usage = (root / limit_file).read_text().strip(), (root / usage_file).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and usage.isdigit() and int(limit) < 2**60:  # "max" or a huge number: no limit
            return (int(limit) - int(usage)) / 2**20
        return None
    return None


def cpu_has_bf16() -> bool | None:
    """Whether this CPU has bfloat16 arithmetic units (AVX512_BF16 or AMX), from Linux's /proc/cpuinfo;
    None where that cannot be told. Without them bf16 is emulated and several times slower than fp32."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return None


def cpu_description() -> str:
    """This CPU's name and the vector flags that decide its speed ("AMD EPYC, flags avx2 avx512f avx512_bf16,
    2 threads"), from Linux's /proc/cpuinfo (elsewhere: what Python's platform module knows): to print beside
    a timing, since these machines differ."""
    import platform

    name, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    shown = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name}, flags {' '.join(shown) or 'unknown'}, {torch.get_num_threads()} threads"


def bf16_is_emulated(device: torch.device) -> bool:
    """True on a CPU that has no bfloat16 units, or where that cannot be told: bf16 would be slow there."""
    return device.type == "cpu" and cpu_has_bf16() is not True


def default_precision(device: str | torch.device | None = "auto") -> str:
    """What ``precision="auto"`` means: "bf16" on a CPU with bfloat16 units (a step 1.6-1.7x faster with
    AVX512_BF16, about 3x with AMX, at the same loss; see benchmarks/RESULTS.md), else "fp32". GPUs stay
    fp32 until measured."""
    return "bf16" if choose_device(device).type == "cpu" and cpu_has_bf16() else "fp32"


def resolve_precision(precision: str, device: torch.device) -> str:
    """"fp32" or "bf16" for ``precision`` (one of PRECISIONS or "auto"); ValueError for anything else."""
    if precision == "auto":
        return default_precision(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} or auto, not {precision!r}")
    return precision
