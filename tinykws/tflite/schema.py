"""The part of the TFLite flatbuffer schema that tinykws reads and writes.

Numbers transcribed by hand from ``tensorflow/compiler/mlir/lite/schema/schema.fbs``
(the schema tflite-micro pins). A flatbuffer table stores its fields in
*slots* numbered in declaration order; a union field takes two slots (its
``_type`` byte, then the offset of the table). Only what TinyConv-shaped int8
models and the zoo's building blocks (pooling, ADD, MEAN, SVDF) need is listed: anything else in a file is reported as unsupported
rather than guessed at.
"""

from __future__ import annotations

import numpy as np

# The 4-byte file identifier at offset 4 of every .tflite file.
FILE_IDENTIFIER = b"TFL3"
# Current schema version; tflite-micro refuses any other.
SCHEMA_VERSION = 3

# enum BuiltinOperator (int32 in OperatorCode.builtin_code; codes < 127 are
# also stored in the legacy int8 field deprecated_builtin_code).
BUILTIN_OPERATOR = {
    "ADD": 0,
    "AVERAGE_POOL_2D": 1,
    "CONV_2D": 3,
    "DEPTHWISE_CONV_2D": 4,
    "DEQUANTIZE": 6,
    "FULLY_CONNECTED": 9,
    "MAX_POOL_2D": 17,
    "RESHAPE": 22,
    "SOFTMAX": 25,
    "SVDF": 27,
    "MEAN": 40,
    "QUANTIZE": 114,
}
OPERATOR_NAME = {code: name for name, code in BUILTIN_OPERATOR.items()}
# Above this code only the int32 builtin_code field can hold the operator.
PLACEHOLDER_FOR_GREATER_OP_CODES = 127

# enum TensorType : byte, with the NumPy dtype each one stores (little-endian).
TENSOR_TYPE = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int16": 7, "int8": 9}
TENSOR_TYPE_NAME = {code: name for name, code in TENSOR_TYPE.items()}
NUMPY_DTYPE = {name: np.dtype(name).newbyteorder("<") for name in TENSOR_TYPE}

# enum Padding : byte
PADDING = {"SAME": 0, "VALID": 1}
PADDING_NAME = {code: name for name, code in PADDING.items()}

# enum ActivationFunctionType : byte
ACTIVATION = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
ACTIVATION_NAME = {code: name for name, code in ACTIVATION.items()}

# union BuiltinOptions: the index of each options table (0 means NONE).
BUILTIN_OPTIONS = {
    "Conv2DOptions": 1,
    "DepthwiseConv2DOptions": 2,
    "Pool2DOptions": 5,
    "SVDFOptions": 6,
    "FullyConnectedOptions": 8,
    "SoftmaxOptions": 9,
    "AddOptions": 11,
    "ReshapeOptions": 17,
    "ReducerOptions": 27,
    "DequantizeOptions": 38,
    "QuantizeOptions": 89,
}
# Which options table each operator carries.
OPTIONS_OF = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "SOFTMAX": "SoftmaxOptions",
    "RESHAPE": "ReshapeOptions",
    "QUANTIZE": "QuantizeOptions",
    "DEQUANTIZE": "DequantizeOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "ADD": "AddOptions",
    "MEAN": "ReducerOptions",
    "SVDF": "SVDFOptions",
}


class Slot:
    """Field slots of each table, in schema declaration order."""

    # table Model
    MODEL_VERSION = 0
    MODEL_OPERATOR_CODES = 1
    MODEL_SUBGRAPHS = 2
    MODEL_DESCRIPTION = 3
    MODEL_BUFFERS = 4
    MODEL_METADATA_BUFFER = 5
    MODEL_METADATA = 6

    # table OperatorCode
    OPCODE_DEPRECATED_BUILTIN_CODE = 0  # byte
    OPCODE_CUSTOM_CODE = 1
    OPCODE_VERSION = 2  # int, default 1
    OPCODE_BUILTIN_CODE = 3  # int

    # table SubGraph
    SUBGRAPH_TENSORS = 0
    SUBGRAPH_INPUTS = 1
    SUBGRAPH_OUTPUTS = 2
    SUBGRAPH_OPERATORS = 3
    SUBGRAPH_NAME = 4

    # table Tensor
    TENSOR_SHAPE = 0
    TENSOR_TYPE = 1  # byte
    TENSOR_BUFFER = 2  # uint
    TENSOR_NAME = 3
    TENSOR_QUANTIZATION = 4
    TENSOR_IS_VARIABLE = 5
    TENSOR_SPARSITY = 6

    # table QuantizationParameters
    QUANT_MIN = 0
    QUANT_MAX = 1
    QUANT_SCALE = 2  # [float]
    QUANT_ZERO_POINT = 3  # [long]
    QUANT_DETAILS_TYPE = 4
    QUANT_DETAILS = 5
    QUANT_QUANTIZED_DIMENSION = 6  # int

    # table Operator
    OPERATOR_OPCODE_INDEX = 0  # uint
    OPERATOR_INPUTS = 1  # [int]
    OPERATOR_OUTPUTS = 2  # [int]
    OPERATOR_BUILTIN_OPTIONS_TYPE = 3  # ubyte (union tag)
    OPERATOR_BUILTIN_OPTIONS = 4  # table offset
    OPERATOR_CUSTOM_OPTIONS = 5

    # table Buffer
    BUFFER_DATA = 0  # [ubyte] (force_align: 16)
    BUFFER_OFFSET = 1  # ulong, for models over 2 GB
    BUFFER_SIZE = 2  # ulong

    # table Metadata
    METADATA_NAME = 0
    METADATA_BUFFER = 1  # uint

    # table Conv2DOptions
    CONV_PADDING = 0
    CONV_STRIDE_W = 1
    CONV_STRIDE_H = 2
    CONV_ACTIVATION = 3
    CONV_DILATION_W = 4  # default 1
    CONV_DILATION_H = 5  # default 1

    # table DepthwiseConv2DOptions
    DW_PADDING = 0
    DW_STRIDE_W = 1
    DW_STRIDE_H = 2
    DW_DEPTH_MULTIPLIER = 3
    DW_ACTIVATION = 4
    DW_DILATION_W = 5  # default 1
    DW_DILATION_H = 6  # default 1

    # table FullyConnectedOptions
    FC_ACTIVATION = 0
    FC_WEIGHTS_FORMAT = 1  # 0 = DEFAULT; others (shuffled) unsupported
    FC_KEEP_NUM_DIMS = 2  # bool

    # table SoftmaxOptions
    SOFTMAX_BETA = 0  # float

    # table ReshapeOptions
    RESHAPE_NEW_SHAPE = 0  # [int]

    # table Pool2DOptions (AVERAGE_POOL_2D, MAX_POOL_2D)
    POOL_PADDING = 0
    POOL_STRIDE_W = 1
    POOL_STRIDE_H = 2
    POOL_FILTER_WIDTH = 3
    POOL_FILTER_HEIGHT = 4
    POOL_ACTIVATION = 5

    # table AddOptions
    ADD_ACTIVATION = 0
    ADD_POT_SCALE_INT16 = 1  # bool, default true; int16 only

    # table ReducerOptions (MEAN)
    REDUCER_KEEP_DIMS = 0  # bool

    # table SVDFOptions
    SVDF_RANK = 0  # int
    SVDF_ACTIVATION = 1
    SVDF_ASYMMETRIC_QUANTIZE_INPUTS = 2  # bool; hybrid (float) models only
