"""Models: the ResNet family and EfficientNet-Lite0 defined here (torchvision's and the package's state_dict
keys), the known trained models (known_models.toml), an ONNX file's declared input (onnx_input), and the spec
of what a run uses (spec: network, weights, preprocessing; building it in torch and exporting ONNX)."""

from bench.models.spec import (
                               BUILDERS,
                               MODELS,
                               ONNX_OPSET,
                               RESNETS,
                               ModelSpec,
                               build_torch,
                               builder,
                               check_state_dict,
                               onnx_file,
                               resolve,
)

__all__ = ["BUILDERS", "MODELS", "ONNX_OPSET", "RESNETS", "ModelSpec", "build_torch", "builder", "check_state_dict",
           "onnx_file", "resolve"]
