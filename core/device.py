"""The one place that decides where tensors live: the GPU when there is one, else the CPU."""
import os

import torch

from core.i18n import DEFAULT_LANGUAGE, t

DEVICE_CHOICES = ("auto", "cpu", "cuda")
# torch's CPU thread count for this process (OMP_NUM_THREADS, else the cores), read at import,
# before any training job sets its own share (core/jobs.py).
CPU_THREADS = torch.get_num_threads()


class DeviceError(ValueError):
    """A device was asked for that this machine does not have."""


def default_device_choice() -> str:
    """The device runs use unless a learner picks another: TLL_DEVICE ("auto", "cpu", "cuda"), else "auto"."""
    choice = os.environ.get("TLL_DEVICE", "auto").lower()
    return choice if choice in available_devices() else "auto"


def available_devices() -> list[str]:
    """The choices worth offering on this machine: "cuda" only when a GPU is present."""
    return ["auto", "cpu", "cuda"] if torch.cuda.is_available() else ["auto", "cpu"]


def pick_device(name: str = "auto") -> torch.device:
    if name not in DEVICE_CHOICES:
        raise DeviceError(f"unknown device {name!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("no GPU (CUDA) is available on this machine: choose 'cpu' or 'auto'")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def device_label(device: torch.device, lang: str = DEFAULT_LANGUAGE) -> str:
    """A short human name in `lang`: "CPU (2 threads)" or "GPU: NVIDIA H100"."""
    if device.type == "cuda":
        return t("common.device_gpu", lang, name=torch.cuda.get_device_name(device))
    return t("common.device_cpu", lang, threads=CPU_THREADS)


def use_all_cpu_threads() -> None:
    """Give the calling thread the process's whole CPU thread count (CPU_THREADS) back.

    `torch.set_num_threads` in one thread also becomes the count of every thread started after
    it. A server's training jobs each set their share (1 of 2 cores, say), so without this the
    page threads Streamlit starts afterwards would compute on one core.
    """
    if torch.get_num_threads() != CPU_THREADS:
        torch.set_num_threads(CPU_THREADS)
