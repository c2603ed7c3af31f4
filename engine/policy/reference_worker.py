"""The reference engine's worker: OPA's Go engine (``libopabridge.so``) driven over stdin/stdout.

Part of the policy stage's tooling (``engine.policy.reference`` starts it); never part of a
decision govops acts on. It runs as its own process (``python -I -S reference_worker.py``)
so the Go runtime never shares a process with govops' forked regopy workers, and a Go
panic ends this process, not govops. It imports the standard library only (plus
``opa_bindings`` from the directory it is told), reads one JSON request, writes one JSON
answer, and never touches a file.

Request: ``{"engine": DIR, "modules": [[name, source]], "data": VALUE|null,
"queries": [{"path": "govops.main", "input": JSON-text|null}]}``. Answer:
``{"problems": [{"file", "line", "code", "message"}]}`` when the modules do not compile,
else ``{"results": [{"value": V} | {"undefined": true} | {"error": MSG}], "seconds": S}``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Any

_PROBLEM = re.compile(r"^(?:.*? occurred: )?(?P<file>[^\s:][^:]*):(?P<line>\d+): (?P<code>rego_\w+): (?P<message>.*)$")


def problems(message: str) -> list[dict[str, Any]]:
    """OPA's ``file:line: rego_xxx_error: message`` lines, parsed (the whole text when none parse)."""
    found: list[dict[str, Any]] = []
    for text in message.splitlines():
        m = _PROBLEM.match(text.strip())
        if m is not None:
            found.append({"file": m["file"], "line": int(m["line"]), "code": m["code"], "message": m["message"]})
    return found or [{"file": None, "line": None, "code": "compile_error", "message": message.strip()}]


def serve(request: dict[str, Any]) -> dict[str, Any]:
    """Compile the modules, then answer every query in order."""
    sys.path.insert(0, request["engine"])
    from opa_bindings.engine import OpaEngine, OpaError, OpaUndefinedError

    engine = OpaEngine()
    engine.print_handler = lambda message, location: None
    try:
        for name, source in request["modules"]:
            try:
                engine.add_policy(name, source)
            except OpaError as exc:
                return {"problems": problems(exc.message)}
        if request.get("data") is not None:
            engine.add_data(request["data"])
        try:
            engine.eval_query("true")  # activation compiles every module: the compile check
        except OpaError as exc:
            return {"problems": problems(exc.message)}
        results: list[dict[str, Any]] = []
        start = time.perf_counter()
        for query in request.get("queries") or []:
            text = query.get("input")
            value = json.loads(text) if text is not None else None
            try:
                results.append({"value": engine.eval_document(query["path"], value)})
            except OpaUndefinedError:
                results.append({"undefined": True})
            except OpaError as exc:
                results.append({"error": f"{exc.code}: {exc.message}"})
        return {"results": results, "seconds": time.perf_counter() - start}
    finally:
        engine.close()


def main() -> int:
    """One request from stdin, one answer on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    answer = serve(request)
    sys.stdout.write(json.dumps(answer, ensure_ascii=True, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
