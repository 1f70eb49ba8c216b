"""Lets a fixed-size detector export take inputs of other sizes, for rectangular letterboxing.

A 640x352 camera letterboxed into a 416x416 square leaves 45% of the network's input as padding,
and inference time grows with the input's area. YOLOX is fully convolutional and its export
reshapes its head from the tensor's own shape, so only the two shape declarations in the file pin
it to 416x416. This rewrites those declarations (the input's height and width, the output's
rows) to free dimensions, working on the protobuf wire format directly so that the worker needs
no `onnx` package. Whether the network really runs at another size is checked by running it
(see `OnnxDetector`), never assumed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

# Field numbers from onnx.proto: ModelProto.graph, GraphProto.input/output,
# ValueInfoProto.name/type, TypeProto.tensor_type, TypeProto.Tensor.shape,
# TensorShapeProto.dim, TensorShapeProto.Dimension.dim_param.
_GRAPH, _INPUT, _OUTPUT = 7, 11, 12
_NAME, _TYPE, _TENSOR, _SHAPE, _DIM, _DIM_PARAM = 1, 2, 1, 2, 1, 2
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5

# (field number, wire type, value): a varint's value is an int, every other wire type's is bytes.
Field = tuple[int, int, int | bytes]


def _message(wire: int, value: int | bytes) -> bytes | None:
    """The bytes of a length-delimited field (a sub-message or a string), else None."""
    return value if wire == _BYTES and isinstance(value, bytes) else None


def with_free_dimensions(
    model: bytes,
    input_name: str,
    input_dims: dict[int, str],
    output_name: str,
    output_dims: dict[int, str],
) -> bytes:
    """The model with the given dimensions (index -> symbolic name) of one input and output freed.

    Raises ValueError when the file does not hold the named input and output with a shape.
    """
    wanted = {(_INPUT, input_name): input_dims, (_OUTPUT, output_name): output_dims}
    found: set[tuple[int, str]] = set()

    def graph(data: bytes) -> bytes:
        fields = []
        for number, wire, value in _parse(data):
            info = _message(wire, value)
            if number in (_INPUT, _OUTPUT) and info is not None:
                name = _name(info)
                dims = wanted.get((number, name))
                if dims is not None:
                    value = _edit(info, (_TYPE, _TENSOR, _SHAPE), partial(_free, dims=dims))
                    found.add((number, name))
            fields.append((number, wire, value))
        return _serialise(fields)

    edited = _serialise(
        [
            (n, w, graph(m) if n == _GRAPH and (m := _message(w, v)) is not None else v)
            for n, w, v in _parse(model)
        ]
    )
    if found != set(wanted):
        raise ValueError("the model's graph does not declare the expected input and output")
    return edited


def _name(value_info: bytes) -> str:
    for number, wire, value in _parse(value_info):
        text = _message(wire, value)
        if number == _NAME and text is not None:
            return text.decode("utf-8", "replace")
    return ""


def _edit(message: bytes, path: tuple[int, ...], change: Callable[[bytes], bytes]) -> bytes:
    """Apply `change` to the sub-message at `path` (field numbers), re-encoding the lengths."""
    fields: list[Field] = []
    hit = False
    for number, wire, value in _parse(message):
        inner = _message(wire, value)
        if number == path[0] and inner is not None:
            value = change(inner) if len(path) == 1 else _edit(inner, path[1:], change)
            hit = True
        fields.append((number, wire, value))
    if not hit:
        raise ValueError("the model declares no tensor shape there")
    return _serialise(fields)


def _free(shape: bytes, dims: dict[int, str]) -> bytes:
    fields = _parse(shape)
    declared = [i for i, (number, _, _) in enumerate(fields) if number == _DIM]
    if max(dims) >= len(declared):
        raise ValueError("the model's tensor has fewer dimensions than expected")
    for index, name in dims.items():
        at = declared[index]
        fields[at] = (_DIM, _BYTES, _serialise([(_DIM_PARAM, _BYTES, name.encode())]))
    return _serialise(fields)


def _parse(data: bytes) -> list[Field]:
    fields: list[Field] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, i = _varint(data, i)
        elif wire == _BYTES:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, i = data[i : i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > len(data):
            raise ValueError("truncated protobuf message")
        fields.append((number, wire, value))
    return fields


def _serialise(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _encode_varint(number << 3 | wire)
        if isinstance(value, int):
            out += _encode_varint(value)
        elif wire == _BYTES:
            out += _encode_varint(len(value)) + value
        else:
            out += value
    return bytes(out)


def _varint(data: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated protobuf varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, i


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
