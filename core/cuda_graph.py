"""On a GPU, the training step recorded once as a CUDA graph and replayed for every full minibatch.

A step of the lesson's small MLP is a few microseconds of GPU work behind ~30 kernel launches
that Python and autograd issue one by one (~1 ms on an H100 box): the GPU mostly waits for the
CPU. Recorded as a CUDA graph, the whole step — gather the minibatch, forward, loss, backward,
optimizer update, count the right answers — is one launch. The math is the eager step's
(`core.train.train_step`); see docs/benchmarks.md for what it buys.

How it goes: the first `WARMUP_STEPS` steps run eagerly on a side stream (so lazy set-up such as
the optimizer's state and cuBLAS's workspace happens before recording), the next one is recorded
and then every full batch replays it. Tensors a graph reads or writes must keep their addresses:
the batch's indices are copied into `self.idx`, the loss lands in `self.loss`, the gradients stay
in the graph's own memory.

Divergence: the eager step skips backward and the update when the loss has blown up, so a
diverged run keeps its last sane weights. A replay cannot branch on the loss, so the graph copies
the weights aside before updating, and `undo_update()` puts them back.
"""
import threading
import warnings
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

WARMUP_STEPS = 3  # eager steps before recording (PyTorch's CUDA-graph notes ask for a few)
# The warm-up steps and each epoch's last, smaller batch run a capturable optimizer outside a
# graph, as intended here; PyTorch warns about that once per optimizer.
warnings.filterwarnings("ignore", message="This instance was constructed with capturable=True")
CUDA_RANDOM = threading.RLock()
"""Held by a run for each CUDA training step, and by a recording for its whole capture.

Runs on a shared server train in threads of one process, and all of them draw dropout's masks
from the one CUDA random-number generator. While a graph is being recorded that generator
counts for the graph, and PyTorch refuses any other thread's draw (an eager step's dropout, or a
replay of another run's graph): "Offset increment outside graph capture encountered
unexpectedly". It also allows one capture at a time per process. Reentrant: a step records.
"""


class GraphedStep:
    """Call with a full minibatch's indices (on the GPU) to train one step; returns the loss.

    `eager_step(x, y) -> loss` is the Trainer's ordinary step (it also counts right answers into
    `correct`); it runs the warm-up steps. `correct` is the Trainer's running count on the device:
    the graph adds each batch's right answers to it in place.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, x_all: torch.Tensor,
                 y_all: torch.Tensor, batch_size: int, correct: torch.Tensor,
                 eager_step: Callable[[torch.Tensor, torch.Tensor], float]):
        self.model, self.optimizer, self.eager_step = model, optimizer, eager_step
        self.x_all, self.y_all, self.correct = x_all, y_all, correct
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.backup = [torch.empty_like(p) for p in self.params]  # the weights before the last replay
        self.idx = torch.zeros(batch_size, dtype=torch.long, device=x_all.device)
        self.loss = None  # the recorded step's loss, a tensor the replays overwrite
        self.graph = None
        self.warm = 0
        self.replayed = False  # did the last call replay the graph (so undo_update has a backup)?
        self.stream = torch.cuda.Stream(x_all.device)  # warm-up and recording; one per run, so
        # runs in other threads never record on a shared stream

    def __call__(self, idx: torch.Tensor) -> float:
        self.idx.copy_(idx)
        if self.graph is None:
            if self.warm < WARMUP_STEPS:
                self.warm += 1
                self.replayed = False
                return self._on_side_stream(lambda: self.eager_step(self.x_all[self.idx], self.y_all[self.idx]))
            self._on_side_stream(self._record)
        self.graph.replay()
        self.replayed = True
        return self.loss.item()  # one host sync per step: the loss curve and the divergence check need it

    def undo_update(self) -> None:
        """Put back the weights from before the last replay (its loss had diverged)."""
        if self.replayed:
            with torch.no_grad():
                torch._foreach_copy_(self.params, self.backup)

    def release(self) -> None:
        """Drop the graph and its memory; the model keeps its weights and loses the recorded .grad."""
        self.graph = self.loss = None
        self.optimizer.zero_grad(set_to_none=True)

    def _on_side_stream(self, work):
        current = torch.cuda.current_stream(self.stream.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            out = work()
        current.wait_stream(self.stream)
        return out

    def _record(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)  # backward then allocates .grad inside the graph
        graph = torch.cuda.CUDAGraph()
        # thread_local: other runs' threads may use the GPU while this one records
        with CUDA_RANDOM, torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
            x, y = self.x_all[self.idx], self.y_all[self.idx]
            with torch.no_grad():
                torch._foreach_copy_(self.backup, self.params)
            logits = self.model(x)  # ④ forward → ⑤ output
            loss = F.cross_entropy(logits, y)  # ⑥ loss
            loss.backward()  # ⑦ gradients
            self.optimizer.step()  # ⑧ parameter update
            self.correct.add_((logits.argmax(1) == y).sum())
            self.loss = loss.detach()
        self.graph = graph
