"""Checking an Open Inference Protocol V2 inference request before it is forwarded.

Serving stage. Pure: parses the body with orjson and returns the document or the
reason it is malformed (answered with 400 by the gateway). Checks the shape of the
protocol (``inputs`` with ``name``, ``shape`` — at most ``MAX_DIMS`` dimensions of at most
``MAX_DIM`` — ``datatype``, ``data`` with at least one element whose count matches the shape;
optional ``id``, ``parameters``, ``outputs``), not the
model's semantics, which MLServer checks. It never modifies the body: the gateway
forwards the caller's bytes unchanged.
"""

from __future__ import annotations

from typing import Any

import orjson

from engine.spec.errors import PayloadError

DATATYPES = frozenset(
    {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
     "FP16", "FP32", "FP64", "BYTES"}
)


MAX_DIMS = 8
MAX_DIM = 2**31 - 1  # one dimension; a shape's product is also checked against the elements sent


def _count(data: Any, depth: int = 0) -> int:
    if not isinstance(data, list):
        return 1
    if depth > 32:
        raise PayloadError("data is nested more than 32 levels deep")
    if not data:
        return 0
    if not isinstance(data[0], list):
        if any(isinstance(x, list) for x in data):
            raise PayloadError("data mixes lists and scalars at the same level")
        return len(data)
    if not all(isinstance(x, list) for x in data):
        raise PayloadError("data mixes lists and scalars at the same level")
    return sum(_count(x, depth + 1) for x in data)


def parse_infer_request(body: bytes) -> dict[str, Any]:
    """The request document, or :class:`PayloadError` saying why it is not a V2 inference request."""
    if not body:
        raise PayloadError("empty body: expected a JSON object with 'inputs'")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PayloadError("body must be a JSON object with 'inputs'")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise PayloadError("'inputs' must be a non-empty list of tensors")
    rows: int | None = None
    for i, t in enumerate(inputs):
        shape = _check_tensor(t, f"inputs[{i}]")
        if rows is None:
            rows = shape[0]
        elif shape[0] != rows:
            raise PayloadError(f"inputs[{i}]: first dimension {shape[0]} differs from inputs[0] ({rows})")
        if "parameters" in t and not isinstance(t["parameters"], dict):
            raise PayloadError(f"inputs[{i}].parameters must be an object")
    if "id" in doc and not isinstance(doc["id"], str):
        raise PayloadError("'id' must be a string")
    if "parameters" in doc and not isinstance(doc["parameters"], dict):
        raise PayloadError("'parameters' must be an object")
    outputs = doc.get("outputs")
    if outputs is not None and (
        not isinstance(outputs, list)
        or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs)
    ):
        raise PayloadError("'outputs' must be a list of objects with a 'name'")
    return doc


def _check_tensor(t: Any, where: str) -> list[int]:
    """One input tensor's keys, name, shape, datatype and element count; its shape."""
    if not isinstance(t, dict):
        raise PayloadError(f"{where} must be an object with name, shape, datatype and data")
    for key in ("name", "shape", "datatype", "data"):
        if key not in t:
            raise PayloadError(f"{where} has no '{key}'")
    if not isinstance(t["name"], str) or not t["name"]:
        raise PayloadError(f"{where}.name must be a non-empty string")
    shape = t["shape"]
    if (not isinstance(shape, list) or not shape
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise PayloadError(f"{where}.shape must be a non-empty list of non-negative integers")
    if len(shape) > MAX_DIMS or not all(s <= MAX_DIM for s in shape):
        raise PayloadError(f"{where}.shape must have at most {MAX_DIMS} dimensions of at most {MAX_DIM} each")
    if t["datatype"] not in DATATYPES:
        known = ", ".join(sorted(DATATYPES))
        raise PayloadError(f"{where}.datatype '{t['datatype']}' is not a V2 datatype ({known})")
    got = _count(t["data"])
    if got == 0:
        raise PayloadError(f"{where}: a tensor needs at least one element (shape {shape}, no data)")
    expected = 1
    for s in shape:  # at most MAX_DIMS factors below 2**31: cheap
        expected *= s
    if got != expected:
        raise PayloadError(f"{where}: shape {shape} needs {expected} elements, data has {got}")
    return shape
