"""A PyTriton server under PyTriton's own default security (its statistics API needs a token it keeps), serving a
model shaped as bench serve's: for tests/test_remote.py, run by bench serve's interpreter as
`python tests/pytriton_guarded.py PORT`."""

import os
import sys
import time

import numpy as np
import pytriton.triton as pt
from pytriton.decorators import batch
from pytriton.model_config import ModelConfig, Tensor

from bench.commands.serve import own_libpython


@batch
def infer(images):
    return {"classes": np.zeros((len(images), 1), np.int64)}


if __name__ == "__main__":
    os.environ["LD_LIBRARY_PATH"] = str(own_libpython())  # the Python-backend stub's libpython (bench/commands/serve.py)
    port = int(sys.argv[1])
    config = pt.TritonConfig(http_address="127.0.0.1", http_port=port, grpc_address="127.0.0.1", grpc_port=port + 1,
                             metrics_address="127.0.0.1", metrics_port=port + 2)
    with pt.Triton(config=config) as triton:
        triton.bind(model_name="resnet50", infer_func=infer,
                    inputs=[Tensor(name="images", dtype=np.float32, shape=(3, 4, 4))],
                    outputs=[Tensor(name="classes", dtype=np.int64, shape=(1,))], config=ModelConfig(max_batch_size=8))
        triton.run()
        print("Ctrl-C stops", flush=True)
        time.sleep(600)
