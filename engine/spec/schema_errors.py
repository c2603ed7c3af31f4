"""Turn pydantic validation errors into diagnostics at ``file:line:col``.

pydantic reports *where* in the data an error is (its ``loc``); the loader knows where
each piece of data came from in the file. This module joins the two, and for unknown
fields suggests the nearest valid field name, the way a compiler suggests a symbol.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.spec.diagnostics import Diagnostic
from engine.spec.loader import JsonPath, YamlDocument, format_path


def data_path(data: Any, loc: tuple[Any, ...]) -> JsonPath:
    """Keep the parts of a pydantic ``loc`` that are real keys/indexes in ``data``.

    pydantic adds union tags (``'slack'``, ``'str'``) and validator names to ``loc``;
    they are not in the file, so they are dropped.
    """
    out: list[str | int] = []
    cur = data
    for part in loc:
        if isinstance(cur, dict) and isinstance(part, str) and part in cur:
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and isinstance(part, str) and part == cur.get("type"):
            continue  # a discriminated union's tag
        elif isinstance(cur, dict) and isinstance(part, str):
            # a missing key: keep it so the message can name it
            out.append(part)
            cur = None
    return tuple(out)


def _field_names(annotation: Any) -> set[str]:
    """Aliases of every pydantic model reachable directly in ``annotation``."""
    names: set[str] = set()
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _field_names(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            names |= _field_names(arg)
        return names
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            names.add(info.alias or name)
    return names


def _resolve(model: type[BaseModel], path: JsonPath) -> Any:
    """The annotation found by following ``path`` (keys and indexes) from ``model``."""
    annotation: Any = model
    for part in path:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return annotation


def _step(annotation: Any, part: str | int) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _step(typing.get_args(annotation)[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            found = _step(arg, part)
            if found is not None:
                return found
        return None
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin is dict and isinstance(part, str):
        return typing.get_args(annotation)[1]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(part, str):
        for name, info in annotation.model_fields.items():
            if (info.alias or name) == part:
                return info.annotation
    return None


def suggest(word: str, choices: set[str] | list[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in choices}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f" (did you mean '{match[0]}'?)" if match else ""


def _fmt_path(path: JsonPath) -> str:
    return format_path(path) or "(document)"


def diagnostics_from_validation(
    exc: ValidationError,
    doc: YamlDocument,
    model: type[BaseModel],
    *,
    model_id: str | None = None,
) -> list[Diagnostic]:
    """One diagnostic per pydantic error, at the position of the offending key."""
    out: list[Diagnostic] = []
    for err in exc.errors(include_url=False):
        path = data_path(doc.data, tuple(err["loc"]))
        kind = err["type"]
        field = str(path[-1]) if path else ""
        where = _fmt_path(path)
        if kind == "extra_forbidden":
            allowed = _field_names(_resolve(model, path[:-1]))
            msg = f"unknown field '{field}' in {_fmt_path(path[:-1])}{suggest(field, allowed)}"
            if allowed:
                msg += f"; valid fields: {', '.join(sorted(allowed))}"
            rule = "schema/unknown-field"
            line, col = doc.position(path)
        elif kind == "missing":
            msg = f"missing required field '{field}' in {_fmt_path(path[:-1])}"
            rule = "schema/missing-field"
            line, col = doc.position(path[:-1])
        elif kind in ("literal_error", "enum"):
            got = err.get("input")
            msg = f"{where}: {err['msg'].replace('Input should be', 'must be')} (got {got!r})"
            rule = "schema/invalid-value"
            line, col = doc.position(path)
        elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
            msg = f"{where}: {err['msg']}"
            rule = "schema/invalid-value"
            line, col = doc.position(path)
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
            text = err["msg"].replace("Value error, ", "").replace("Input should be", "must be")
            msg = f"{where}: {text}{shown}"
            rule = "schema/invalid-type" if kind.endswith("_type") or "parsing" in kind else "schema/invalid-value"
            line, col = doc.position(path)
        out.append(
            Diagnostic(file=doc.file, line=line, col=col, rule=rule, message=msg, model=model_id, path=_fmt_path(path))
        )
    return out
