"""Remote backend: the model runs on an Open Inference Protocol server (Triton, KServe v2, OpenVINO Model Server,
`bench serve`), reached over HTTP(S) or gRPC with NVIDIA's tritonclient, never a hand-written protocol.

At load it reads the served model's metadata and config and refuses, before anything is timed, what does not fit the
run (input shape, dtype vs --precision, max batch, output form). Tensors travel in binary (HTTP's binary-data
extension, gRPC's raw contents) in the dtype the server declares. Each worker thread the scenario starts has a
client of its own per endpoint (tritonclient's clients are not thread-safe), so `--concurrency` requests are in
flight at once; with several endpoints each request goes to the one with the fewest outstanding. Every reply is
checked (dtype, shape, count, finite) and every request has a client-side time-out: a stalled server fails the run.
Header values (credentials) are sent, never described or logged.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TYPE_CHECKING

from bench.backends import remote_stats
from bench.backends.base import Availability, Backend, BackendOptions, Support, argmax_classes

if TYPE_CHECKING:  # numpy and the metadata checks load with the backend, not with `bench run --help`
    import numpy as np

    from bench.backends.remote_meta import ServedModel
from bench.backends.remote_endpoints import RESENT_NAMED, Endpoint, client_version, parse_header, parse_urls
from bench.errors import BackendUnavailable, RunFailed, UsageError

DEFAULT_TIMEOUT_MS = 10_000.0
STATS_SETTLE_S = 2.0  # the longest a server's statistics may trail its last response


class RemoteBackend(Backend):
    name = "remote"
    extra = "remote"
    # fp32/fp16: the dtype the served model's input declares must match (checked at load); the options it honours.
    SUPPORTS = {"cpu": Support(("fp32", "fp16"), options=(
        "url", "remote_model", "concurrency", "request_timeout_ms", "header", "ca_cert", "null_image_size",
        "allow_endpoint_loss"))}
    over_network = True  # the harness names the SUT a "Network SUT" (MLPerf's Network division)

    @classmethod
    def probe(cls) -> Availability:
        try:
            import tritonclient.grpc
            import tritonclient.http  # noqa: F401
        except ImportError as exc:
            return Availability(False, f"tritonclient is not installed ({exc}): pip install 'bench[remote]'")
        return Availability(True, version=client_version(), devices=["cpu"])

    @classmethod
    def check_options(cls, options: BackendOptions) -> None:
        super().check_options(options)
        if options.extra.get("url"):  # required, but at load: the declaration checks (sweep, listing) ask no server
            parse_urls(options.extra["url"])
        parse_header(options.extra.get("header"))
        ca = options.extra.get("ca_cert")
        if ca is not None and not os.path.isfile(ca):
            raise UsageError(f"--ca-cert {ca} is not a file: give the PEM file of the CA that signed the server's "
                             "certificate")

    def load(self, model, options: BackendOptions) -> None:
        extra = options.extra
        self.options = options
        if not extra.get("url"):
            raise UsageError("--backend remote needs --url (e.g. --url grpc://127.0.0.1:8001): the server to run on")
        self.endpoints = parse_urls(extra["url"])
        self.headers = parse_header(extra.get("header"))
        self.timeout_s = float(extra.get("request_timeout_ms") or DEFAULT_TIMEOUT_MS) / 1000
        self.concurrency = int(extra.get("concurrency") or 1)
        self.ca_cert = extra.get("ca_cert")
        self.allow_loss = bool(extra.get("allow_endpoint_loss"))
        self._lock = threading.Lock()
        side = extra.get("null_image_size") or model.input_size
        self._made: list = []  # every client made, closed at the end
        import numpy

        from bench.backends import remote_meta

        self.np, self.meta = numpy, remote_meta
        served = [remote_meta.read_model(self._thread_client(e), e, extra.get("remote_model"), self._grpc_headers(e),
                                         self.timeout_s) for e in self.endpoints]
        self.served: ServedModel = served[0]
        for e, other in zip(self.endpoints[1:], served[1:], strict=True):
            if other.signature() != self.served.signature():
                raise BackendUnavailable(f"endpoint {e.url} serves {other.signature()}, but {self.endpoints[0].url} "
                                         f"serves {self.served.signature()}: every --url must serve the same model")
        self.served.check(self.endpoints[0].url, (3, side, side), options.precision, options.batch_size,
                          model.num_classes)
        self.in_dtype = numpy.dtype(remote_meta.NUMPY[self.served.input_dtype])

    def _thread_client(self, e: Endpoint):
        """This thread's client of `e`, made on its first request: geventhttpclient's connections belong to the
        thread (gevent hub) that made them, so a client made in another thread cannot be used here."""
        client = getattr(e.local, "client", None)
        if client is None:
            client = e.local.client = self._client(e)
            with self._lock:
                self._made.append(client)
        return client

    def _client(self, e: Endpoint):
        if e.protocol == "http":
            import tritonclient.http as tc

            ssl_factory = None
            if e.tls and self.ca_cert:
                import functools

                import gevent.ssl

                ssl_factory = functools.partial(gevent.ssl.create_default_context, cafile=self.ca_cert)
            return tc.InferenceServerClient(e.address, ssl=e.tls, ssl_context_factory=ssl_factory,
                                            connection_timeout=self.timeout_s, network_timeout=self.timeout_s)
        import tritonclient.grpc as tc

        return tc.InferenceServerClient(e.address, ssl=e.tls, root_certificates=self.ca_cert if e.tls else None)

    def _grpc_headers(self, e: Endpoint) -> dict[str, str]:
        """gRPC metadata keys must be lower case; HTTP header names are case-insensitive anyway."""
        return {k.lower(): v for k, v in self.headers.items()} if e.protocol == "grpc" else dict(self.headers)

    def _pick(self) -> Endpoint:
        """The endpoint with the fewest requests outstanding (least outstanding requests)."""
        with self._lock:
            if not (live := [x for x in self.endpoints if x.lost is None]):
                raise RunFailed(f"every endpoint was lost: {'; '.join(f'{x.url}: {x.lost}' for x in self.endpoints)}")
            e = min(live, key=lambda x: x.outstanding)
            e.outstanding += 1
            return e

    def logits(self, batch: np.ndarray) -> np.ndarray:
        scores = self._infer(batch)
        if not self.served.gives_logits:
            raise NotImplementedError(f"the served model {self.served.name} returns class ids, not scores")
        return scores.astype(self.np.float32)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.predict_indexed(batch, None)

    def predict_indexed(self, batch: np.ndarray, indices: np.ndarray | None) -> np.ndarray:
        """predict(), told the batch's sample indices (bench/run/sut.py): a lost endpoint's samples are named."""
        out = self._infer(batch, indices)
        if self.served.gives_logits:
            return argmax_classes(out)
        return out.reshape(len(batch)).astype(self.np.int64)

    def _infer(self, batch: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        while True:
            e = self._pick()
            try:
                return self._infer_on(e, batch)
            except self.meta.Unreachable as exc:
                self._take_out(e, exc, len(batch), indices)

    def _take_out(self, e: Endpoint, exc, n: int, indices: np.ndarray | None) -> None:
        with self._lock:  # out of the rotation; the run goes on with the others only under --allow-endpoint-loss
            e.lost = e.lost or exc.reason
            live = [x.url for x in self.endpoints if x.lost is None]
            if self.allow_loss and live:
                e.resent += n  # this request's samples go to another endpoint: none is left unanswered
                if indices is not None:
                    e.resent_ids += [int(i) for i in indices[:RESENT_NAMED - len(e.resent_ids)]]
                return
        hint = "; the others answer: --allow-endpoint-loss goes on with them" if live else ""
        raise RunFailed(f"{exc.message}; endpoint {e.url} taken out{hint}") from exc

    def _infer_on(self, e: Endpoint, batch: np.ndarray) -> np.ndarray:
        served, n = self.served, len(batch)
        client = self._thread_client(e)
        start = time.perf_counter()
        try:
            if e.protocol == "http":
                import tritonclient.http as tc
            else:
                import tritonclient.grpc as tc
            data = self.np.ascontiguousarray(batch, dtype=self.in_dtype)  # a copy: the harness reuses `batch`
            inp = tc.InferInput(served.input_name, list(data.shape), served.input_dtype)
            out = tc.InferRequestedOutput(served.output_name, **({"binary_data": True} if e.protocol == "http"
                                                                 else {}))
            if e.protocol == "http":
                inp.set_data_from_numpy(data, binary_data=True)
                # A copy: tritonclient adds its own headers (Inference-Header-Content-Length) to the dict it is given.
                reply = client.infer(served.name, [inp], model_version=served.version, outputs=[out],
                                     headers=dict(self.headers) or None)
            else:
                inp.set_data_from_numpy(data)
                reply = client.infer(served.name, [inp], model_version=served.version, outputs=[out],
                                     headers=self._grpc_headers(e) or None, client_timeout=self.timeout_s)
            result = reply.as_numpy(served.output_name)
        except Exception as exc:
            message = (f"endpoint {e.url}, model {served.name}: a request of {n} samples failed after "
                       f"{time.perf_counter() - start:.2f} s (time-out {self.timeout_s:g} s): "
                       f"{type(exc).__name__}: {self.meta.one_line(exc)}")
            if self.meta.unreachable(exc):
                raise self.meta.Unreachable(message, f"{type(exc).__name__}: {self.meta.one_line(exc)}") from exc
            raise RunFailed(message) from exc  # the server answered with an error (e.g. HTTP 500): its model failed
        finally:
            with self._lock:
                e.outstanding -= 1
        served.check_reply(e.url, result, n)
        with self._lock:
            e.requests, e.samples, e.busy_s = e.requests + 1, e.samples + n, e.busy_s + time.perf_counter() - start
        return result

    def reset_stats(self) -> None:
        with self._lock:
            for e in self.endpoints:
                e.requests, e.samples, e.busy_s, e.resent, e.resent_ids = 0, 0, 0.0, 0, []
        self._stats_before = self._server_stats()

    def _server_stats(self) -> dict[str, dict | str]:
        """Each endpoint's cumulative statistics (backends/remote_stats.py), or why it has none."""
        from tritonclient.utils import InferenceServerException

        out: dict[str, dict | str] = {}
        for e in self.endpoints:
            if e.lost is not None:
                out[e.url] = f"taken out mid-run: {e.lost}"
                continue
            try:
                out[e.url] = remote_stats.read(self._thread_client(e), e.protocol, self.served.name,
                                               self.served.version, self._grpc_headers(e) or None, self.timeout_s)
            except (InferenceServerException, OSError) as exc:  # a server without the extension: the record says so
                out[e.url] = f"no statistics extension ({type(exc).__name__}: {str(exc)[:160]})"
        return out

    def server_time(self) -> dict | None:
        before, client = getattr(self, "_stats_before", {}), sum(e.requests for e in self.endpoints)
        after = self._server_stats()
        # Triton counts a request once its response has gone: read again (up to STATS_SETTLE_S) until the server
        # has counted every request the client saw answered, so the split's means cover the same requests.
        deadline = time.monotonic() + STATS_SETTLE_S
        while (n := remote_stats.counted(before, after)) is not None and n < client and time.monotonic() < deadline:
            time.sleep(0.02)
            after = self._server_stats()
        return remote_stats.split(before, after, client, sum(e.busy_s for e in self.endpoints))

    def device_stats(self) -> list[dict] | None:
        """Each endpoint's share of the timed run and its mean client-side request time; an endpoint taken out says
        why, how many of its samples were re-sent to the others and which (sample indices, the first RESENT_NAMED)."""
        total = sum(e.samples for e in self.endpoints) or 1
        return [{"device": e.url, "endpoint": e.url, "requests": e.requests, "samples": e.samples,
                 "share": round(e.samples / total, 4),
                 "mean_request_ms": round(1000 * e.busy_s / e.requests, 3) if e.requests else None,
                 **({"lost": e.lost, "resent_samples": e.resent, "resent_sample_indices": e.resent_ids}
                    if e.lost else {})}
                for e in self.endpoints]

    def describe(self) -> dict:
        protocols = sorted({e.protocol for e in self.endpoints})
        return {"name": self.name, "device": "remote", "precision": self.options.precision,
                "endpoints": [e.url for e in self.endpoints], "protocol": ",".join(protocols),
                "tls": any(e.tls for e in self.endpoints), "ca_cert": self.ca_cert,
                **self.served.describe(), "concurrency": self.concurrency,
                "request_timeout_ms": self.timeout_s * 1000, "client": f"tritonclient {client_version()}",
                # Header names only: their values are credentials, never written to a record or a log.
                "headers": sorted(self.headers)}

    def close(self) -> None:
        for client in getattr(self, "_made", []):
            with contextlib.suppress(Exception):  # closing a dead server's client must not mask the run's end
                client.close()
