"""torch on CUDA: the host data path an accelerator wants, and the launches taken off the timed batches.

One batch: the QSL gathers it straight into a pinned staging buffer (its only host copy; a one-sample batch read in
place in the store is copied there instead, counted), a copy stream sends it to the device, a compute stream waits
for that copy and runs normalisation + model + argmax (backends/device_input.py: uint8 NHWC in, 150 KB a sample at
224x224), then copies the class ids back into pinned memory and records an event. `submit` returns at once while a
staging buffer is free: with k compute streams, k batches compute while the next one is copied. One completion thread
waits on the events in submission order (the wait releases the GIL) and answers LoadGen; no worker blocks on .cpu().

CUDA graphs (--cuda-graphs): predict() (the warm-up, which runs every batch size the scenario issues) captures
normalise + model + argmax at each size it meets, one graph per compute stream reading that stream's device input
buffer. A timed batch replays the smallest captured size that holds it; the rows past n keep older data, computed and
never answered. Without a captured size it runs eagerly (the record lists the sizes).

--input-location device: LoadGen's load_samples (untimed) copies the loaded set to the device once; a timed batch
sends its row numbers (8 bytes a sample) and gathers on the device (index_select): no sample crosses the bus in the
timed region. Not MLPerf-conformant (see bench/config/run_config.py); bench submission refuses it.

NOT RUN ON A GPU: this module was written and reviewed on a CPU-only machine (tests/test_gpu.py's `gpu` tests run it
where a GPU is; benchmarks/gpu_suite.py measures it). Its CPU-testable parts (the normalisation, the data-path fields
of the record) are tested through the CPU path.
"""

from __future__ import annotations

import queue
import threading

from bench.backends.device_input import normaliser
from bench.errors import RunFailed

WAIT_S = 60.0  # a device that takes no batch for a minute is a bug to stop on, not to wait out
EAGER_WARMUP = 3  # eager runs on the capture stream before a graph is captured (cuDNN's algorithm search)


class CudaPath:
    def __init__(self, backend, concurrency: int, graphs: bool, input_location: str):
        torch = self.torch = backend.torch
        self.b, self.device, self.k = backend, backend.torch_device, concurrency
        self.max_batch, self.use_graphs, self.input_location = backend.max_batch, graphs, input_location
        size, uint8 = backend.input_size, backend.sample_form == "uint8-nhwc"
        self.sample_shape = (size, size, 3) if uint8 else (3, size, size)
        self.sample_dtype = torch.uint8 if uint8 else torch.float32
        # The first op of the model: uint8 NHWC -> normalised NCHW in the model's dtype and memory format.
        self.prepare = (normaliser(torch, backend.profile, backend.dtype, backend.memory_format, self.device)
                        if uint8 else (lambda x: x.to(backend.dtype).contiguous(memory_format=backend.memory_format)))
        self.copy_stream = torch.cuda.Stream(self.device)
        self.streams = [torch.cuda.Stream(self.device) for _ in range(self.k)]
        shape = (self.max_batch, *self.sample_shape)
        self.dev_in = [torch.empty(shape, dtype=self.sample_dtype, device=self.device) for _ in range(self.k)]
        self.read = [torch.cuda.Event() for _ in range(self.k)]  # each stream's last batch has read its dev_in
        # One enqueue at a time per compute stream: two callers' copies into one dev_in would race past `read`.
        self.locks = [threading.Lock() for _ in range(self.k)]
        self.pools = [torch.cuda.graph_pool_handle() for _ in range(self.k)]  # graphs of one stream never overlap
        self.graphs: dict[tuple[int, int], tuple] = {}  # (stream, batch) -> (graph, static classes)
        # k batches computing, one being copied behind them: k + 1 staging slots.
        self.slots = [self._slot(i, shape) for i in range(self.k + 1)]
        self.free = list(range(len(self.slots)))
        self.cond = threading.Condition()
        self.pending: queue.SimpleQueue = queue.SimpleQueue()
        self.h2d = 0  # batches of samples sent to the device
        self.counters = {"extra_copies": 0}  # host copies besides the QSL's gather: in-place rows put into staging
        self.resident = None
        self.thread = threading.Thread(target=self._complete, name="cuda-completion", daemon=True)
        self.thread.start()

    def _slot(self, index: int, shape) -> dict:
        torch = self.torch
        host = torch.empty(shape, dtype=self.sample_dtype, pin_memory=True)
        return {"index": index, "stream": index % self.k, "host": host, "host_np": host.numpy(),
                "done": torch.cuda.Event(),
                "classes": torch.empty(self.max_batch, dtype=torch.int64, pin_memory=True)}

    @property
    def pinned(self) -> bool:
        return all(s["host"].is_pinned() and s["classes"].is_pinned() for s in self.slots)

    # ---- the timed path ----------------------------------------------------------------------------------

    def _take_slot(self) -> dict:
        with self.cond:
            if not self.cond.wait_for(lambda: self.free, WAIT_S):
                raise RunFailed(f"torch cuda: no staging buffer came free in {WAIT_S:g} s")
            return self.slots[self.free.pop(0)]

    def submit(self, n: int, fill, done) -> None:
        """Gather a batch of n (`fill(out)`, the QSL's one host copy) into pinned staging, enqueue its H2D and
        compute, return; `done(classes, error)` is called from the completion thread."""
        slot = self._take_slot()
        try:
            staged = slot["host_np"][:n]
            data = fill(staged)
            restaged = data is not staged and data.ctypes.data != staged.ctypes.data  # a row read in place
            if restaged:  # the store is pageable: its row is copied into pinned staging (the batch's one copy)
                staged[...] = data
            s, torch = slot["stream"], self.torch
            with self.locks[s]:
                with torch.cuda.stream(self.copy_stream):
                    self.copy_stream.wait_event(self.read[s])  # that stream's previous batch has read dev_in
                    self.dev_in[s][:n].copy_(slot["host"][:n], non_blocking=True)
                    copied = torch.cuda.Event()
                    copied.record(self.copy_stream)
                self.streams[s].wait_event(copied)
                self._compute(slot, n)
                self.pending.put((slot, n, done, 1, restaged))
        except BaseException:
            self._release(slot)
            raise

    def submit_rows(self, rows, done) -> None:
        """--input-location device: gather the batch's rows from the resident set on the device."""
        slot = self._take_slot()
        try:
            n, s, torch = len(rows), slot["stream"], self.torch
            with self.locks[s]:
                with torch.cuda.stream(self.streams[s]):
                    index = torch.from_numpy(rows).to(self.device, non_blocking=True)  # row numbers, not samples
                    torch.index_select(self.resident, 0, index, out=self.dev_in[s][:n])
                self._compute(slot, n)
                self.pending.put((slot, n, done, 0, False))
        except BaseException:
            self._release(slot)
            raise

    def _compute(self, slot: dict, n: int) -> None:
        """On the slot's compute stream: model (a graph if one holds n), class ids into pinned memory, the event."""
        torch, s = self.torch, slot["stream"]
        stream = self.streams[s]
        with torch.inference_mode(), torch.cuda.stream(stream):
            size = min((b for (st, b) in self.graphs if st == s and b >= n), default=None)
            if size is not None:
                graph, classes = self.graphs[(s, size)]
                graph.replay()
            else:
                classes = self._classes(self.dev_in[s][:n])
            self.read[s].record(stream)
            slot["classes"][:n].copy_(classes[:n], non_blocking=True)
            slot["done"].record(stream)

    def _classes(self, x):
        out = self.b.model(self.prepare(x))
        return out.argmax(1) - 1 if out.shape[1] == 1001 else out.argmax(1)  # MLPerf's 1001-way ONNX: background

    def _complete(self) -> None:
        """The completion thread: waits on each batch's event in submission order, answers, frees the slot. It alone
        counts the copies (one thread: no lost increments), before answering, so a finished run's counts are whole."""
        while (item := self.pending.get()) is not None:
            slot, n, done, sent, restaged = item
            self.h2d += sent
            self.counters["extra_copies"] += restaged
            try:
                slot["done"].synchronize()  # releases the GIL while the device works
                classes, exc = slot["classes"][:n].numpy().copy(), None
            except BaseException as error:  # noqa: BLE001 - answered as the batch's error, the run ends failed
                classes, exc = None, error
            self._release(slot)
            done(classes, exc)

    def _release(self, slot: dict) -> None:
        with self.cond:
            self.free.append(slot["index"])
            self.cond.notify_all()

    # ---- untimed: warm-up, graphs, the resident set -------------------------------------------------------

    def predict(self, batch):
        """Synchronous (warm-up, logits checks): captures this size's graphs first when asked, then one submit."""
        n = len(batch)
        if self.use_graphs and not any(b == n for (_, b) in self.graphs):
            for s in range(self.k):
                self._capture(s, n)
        result: dict = {}
        finished = threading.Event()

        def done(classes, exc) -> None:
            result.update(classes=classes, exc=exc)
            finished.set()

        self.submit(n, lambda out: _copy(out, batch), done)
        if not finished.wait(WAIT_S):
            raise RunFailed(f"torch cuda: a batch did not complete in {WAIT_S:g} s")
        if result["exc"] is not None:
            raise result["exc"]
        return result["classes"]

    def logits(self, batch):
        """Raw scores of one batch, eagerly on the default stream (agreement checks; never timed)."""
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device)
            return self.b.model(self.prepare(x)).float().cpu().numpy()

    def _capture(self, s: int, n: int) -> None:
        """One graph of normalise + model + argmax at batch n, reading stream s's device input buffer."""
        torch, stream = self.torch, self.streams[s]
        torch.cuda.synchronize(self.device)
        x = self.dev_in[s][:n]
        with torch.inference_mode(), torch.cuda.stream(stream):
            for _ in range(EAGER_WARMUP):
                self._classes(x)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=self.pools[s], stream=stream):
                classes = self._classes(x)
        torch.cuda.synchronize(self.device)
        self.graphs[(s, n)] = (graph, classes)

    def load_resident(self, data) -> None:
        """LoadGen's load_samples, untimed: the loaded set (the store's array) copied to the device once."""
        self.resident = None
        self.resident = self.torch.from_numpy(data).to(self.device)
        self.torch.cuda.synchronize(self.device)

    def drop_resident(self) -> None:
        self.resident = None

    def describe(self) -> dict:
        return {"streams": self.k, "batches_in_flight": len(self.slots), "copy_stream": True,
                "completion": "one thread waiting on CUDA events", "pinned_staging": self.pinned,
                "input_location": self.input_location,
                "cuda_graphs": sorted({b for (_, b) in self.graphs}) if self.use_graphs else False}

    def close(self) -> None:
        self.pending.put(None)
        self.thread.join(WAIT_S)


def _copy(out, batch):
    out[...] = batch
    return out
