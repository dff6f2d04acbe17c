"""`bench serve --backend B [--port P] [--host 127.0.0.1]`: any bench backend behind the Open Inference Protocol.

The server is NVIDIA's PyTriton (Triton Inference Server in a wheel: HTTP on P, gRPC on P+1, metrics on P+2), never a
hand-written one; Triton's Python-backend stub forwards each request to this process, where the backend predicts.
`bench run --backend remote --url grpc://HOST:P+1` then benchmarks it from another machine (MLPerf's Network division).

The stub links against a libpython3.11 found by the dynamic loader (Debian's 3.11.2 here) but imports the running
interpreter's standard library: 3.11.7's threading.py then asks the older `_thread.RLock` for `_recursion_count`
and binding fails (triton-inference-server/pytriton#51). Putting this interpreter's own shared libpython first on
LD_LIBRARY_PATH makes the stub's libpython and stdlib the same version; an interpreter with no shared libpython is
refused, naming what to use instead.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import time
from pathlib import Path

import click

from bench.config.command_line import click_options, run_config
from bench.errors import UsageError

SERVED = ("backend", "model", "weights", "onnx", "preprocessing", "precision", "device", "batch_size", "threads",
          "null_image_size", "streams", "sim_a_us", "sim_b_us", "sim_inflight")
INPUT, OUTPUT = "images", "classes"  # the served model's tensor names
EXIT_TIMEOUT_S = 5  # on Ctrl-C/SIGTERM, how long Triton waits for requests in flight (its default is 30 s)


def own_libpython() -> Path:
    """This interpreter's shared libpython, which the Python-backend stub must load (see the module's note)."""
    name = sysconfig.get_config_var("INSTSONAME") or f"libpython{sys.version_info.major}.{sys.version_info.minor}.so"
    libdir = Path(sysconfig.get_config_var("LIBDIR") or "")
    if not (libdir / name).is_file():
        raise UsageError(f"bench serve: this Python ({sys.executable}, {sys.version.split()[0]}) has no shared "
                         f"libpython ({libdir / name} is missing), which Triton's Python backend needs: use an "
                         "interpreter built with --enable-shared (Debian's python3.11, pyenv with "
                         "PYTHON_CONFIGURE_OPTS=--enable-shared)")
    return libdir


def check_ports(host: str, port: int) -> None:
    """Refuse ports already taken before starting Triton, whose own failure is a page of log and a stray client
    talking to whichever server holds the port."""
    import socket

    for p in (port, port + 1, port + 2):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            try:
                s.bind((host, p))
            except OSError as exc:
                raise UsageError(f"bench serve: cannot bind {host}:{p} ({exc.strerror}): HTTP takes --port, gRPC "
                                 "--port+1, metrics --port+2; give a --port whose three ports are free") from exc


def pytriton():
    try:
        import pytriton.triton  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"bench serve needs NVIDIA PyTriton ({exc}): pip install 'bench[serve]' "
                         "(nvidia-pytriton, which ships Triton Inference Server)") from exc
    import numpy as np
    import pytriton.triton as pt

    if int(np.__version__.split(".")[0]) >= 2:  # seen here: every reply's tensors came back 0 bytes, no error
        raise UsageError(f"bench serve: PyTriton 0.7.0 needs numpy<2 (this environment has {np.__version__}, with "
                         "which its replies carry empty tensors): pip install 'numpy<2' in the serving environment "
                         "(pip install 'bench[serve]' in a fresh venv resolves it)")
    return pt


@click.command("serve")
@click_options(SERVED)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (0.0.0.0: every interface; "
              "anyone who can reach it can use the model).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1024, 65533),
              help="HTTP port; gRPC listens on PORT+1, metrics on PORT+2.")
@click.option("--name", "served_name", default=None, help="The served model's name (default: --model's).")
@click.option("--max-queue-delay-us", default=0, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Triton's dynamic batcher: longest a request waits for others to batch with.")
@click.option("--tls-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate: gRPC is served over TLS (grpcs://; clients trust its CA with --ca-cert). "
              "Triton's HTTP endpoint has no TLS: it stays plain.")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM private key of --tls-cert.")
def serve_cmd(host, port, served_name, max_queue_delay_us, tls_cert, tls_key, **values):
    """Serve a bench backend over HTTP and gRPC (Open Inference Protocol) until Ctrl-C or SIGTERM."""
    from bench import backends

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("bench serve: --tls-cert and --tls-key go together (the server's certificate and its key)")

    if backends.backend_class(values["backend"]).over_network:
        raise UsageError(f"bench serve --backend {values['backend']} would serve a server's model again: serve a "
                         "local backend")
    libdir = own_libpython()
    check_ports(host, port)
    pt = pytriton()
    import numpy as np
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    from bench import backends, models
    from bench.models import onnx_input

    cfg = run_config(values)
    model = onnx_input.apply(models.resolve(cfg.model, cfg.weights, cfg.onnx, cfg.seed, cfg.preprocessing), cfg)
    options = backends.BackendOptions(cfg.precision, cfg.device, cfg.batch_size, cfg.threads, "throughput", cfg.extra)
    backend = backends.create(cfg.backend, options)
    side = cfg.extra.get("null_image_size") or model.input_size
    dtype = np.float16 if cfg.precision == "fp16" else np.float32  # what clients send: the backend's input
    name = served_name or model.name
    click.echo(f"loading {model.name} into {cfg.backend} ({cfg.device}, {cfg.precision})", err=True)
    backend.load(model, options)

    @batch
    def infer(**inputs):
        images = np.ascontiguousarray(inputs[INPUT], dtype=np.float32)
        if getattr(backend, "sample_form", None) == "uint8-nhwc":  # sim: a device fed NHWC bytes (it computes nothing)
            images = np.ascontiguousarray(images.transpose(0, 2, 3, 1).clip(0, 255).astype(np.uint8))
        classes = backend.predict(images)
        return {OUTPUT: np.asarray(classes, dtype=np.int64).reshape(len(images), 1)}

    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libdir), os.environ.get("LD_LIBRARY_PATH")]))
    config = pt.TritonConfig(http_address=host, http_port=port, grpc_address=host, grpc_port=port + 1,
                             metrics_address=host, metrics_port=port + 2, exit_timeout_secs=EXIT_TIMEOUT_S,
                             **({"grpc_use_ssl": True, "grpc_server_cert": Path(tls_cert),
                                 "grpc_server_key": Path(tls_key)} if tls_cert else {}))
    # PyTriton guards its control APIs with a token of its own; the statistics extension is read-only and is what
    # `bench run --backend remote` reads to split a request's time into the server's and the rest, so it is open.
    guarded = [api for api in pt.DEFAULT_PROTECTED_ENDPOINTS if api != "statistics"]
    triton = pt.Triton(config=config, security_config=pt.TritonSecurityConfig(restricted_endpoints=guarded))
    try:
        triton.bind(model_name=name, infer_func=infer, inputs=[Tensor(name=INPUT, dtype=dtype, shape=(3, side, side))],
                    outputs=[Tensor(name=OUTPUT, dtype=np.int64, shape=(1,))],
                    config=ModelConfig(max_batch_size=cfg.batch_size,
                                       batcher=DynamicBatcher(max_queue_delay_microseconds=max_queue_delay_us)),
                    strict=True)
        triton.run()  # returns once the server is up and the model ready (PyTriton's own bounded wait)
        click.echo(f"serving {name} ({cfg.backend}, {cfg.precision}, input {INPUT} {dtype.__name__}[-1,3,{side},"
                   f"{side}], max batch {cfg.batch_size}) on http://{host}:{port} and "
                   f"{'grpcs' if tls_cert else 'grpc'}://{host}:{port + 1}; "
                   "Ctrl-C stops", err=True)
        sys.stderr.flush()
        while True:  # until Ctrl-C or SIGTERM (raised here as KeyboardInterrupt by bench/system/signals.py)
            time.sleep(1.0)
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        triton.stop()
        backend.close()
