"""Property-based YAML loader (issue #22, item 3): round trips with positions, and bounded work on any text.

Specs are the first thing a pull request controls, so the loader's input space is the attack
surface. Hypothesis draws documents (any Unicode a YAML file can hold, YAML 1.2 look-alikes such
as ``yes``, ``0o10`` or ``.nan`` as strings, ints, floats, nesting) and valid specs; a YAML 1.2
writer (ruamel.yaml, independent of the loader's libyaml event reader) dumps them in block and
flow style. The loader must give the same values back, and a position for every key and list
item that points at that key or item in the text. On arbitrary text it must either build a
document or raise ``YamlError`` (never another exception), consuming a number of parser events
linear in the text; on deep nesting it stops at the depth limit instead of parsing on.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from engine.spec import loader
from engine.spec.loader import YamlError, parse_yaml
from engine.spec.model import ModelSpec
from tests.change.test_plan_properties import specs

pytestmark = pytest.mark.slow  # real Git histories, subprocess CLIs or many engine calls: over the fast set's budget

PROFILE = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# Characters a YAML stream can carry (YAML 1.2, section 5.1): no surrogates, no C0 controls
# other than tab/LF/CR; the writer escapes what needs escaping in double quotes.
# NEL, LS and PS are left out: libyaml (whose events the loader reads) treats them as line
# breaks as YAML 1.1 does, so inside a quoted scalar they fold to a space, where YAML 1.2
# keeps them (README, Known limitations). Hypothesis found it: {"\x85": None} comes back as {" ": None}.
YAML_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff\x85\u2028\u2029")
LOOK_ALIKES = st.sampled_from(["yes", "no", "on", "off", "y", "0o10", "010", "0x1F", "1e3", ".nan", ".inf", "-.inf",
                               "~", "null", "NULL", "True", "false", "", " ", "- x", "a: b", "#c", "&a", "*a", "!t",
                               "{", "[", "'", '"', "%", "@", "`", "\t", "\n", "1_000", "+1", "-0", "0.", ".5"])
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=True),
    st.text(YAML_CHARS, max_size=20), LOOK_ALIKES,
)
KEYS = st.one_of(st.text(YAML_CHARS, min_size=1, max_size=12), LOOK_ALIKES.filter(bool),
                 st.from_regex(r"[a-z][a-zA-Z0-9_]{0,10}", fullmatch=True))
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=25,
).filter(lambda d: isinstance(d, dict | list))


def dump(data: Any, *, flow: bool) -> str:
    """YAML 1.2 text of ``data`` written by ruamel.yaml (block or flow style)."""
    writer = YAML(typ="safe", pure=True)
    writer.default_flow_style = flow
    writer.allow_unicode = True
    writer.width = 4096
    out = io.StringIO()
    writer.dump(data, out)
    return out.getvalue()


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types (``1 == True`` and ``1 == 1.0`` do not count); key order aside (the writer sorts)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return set(a) == set(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isinf(a):
        return a == b
    return bool(a == b)


def tree_paths(data: Any, path: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """Every key and list-item path of ``data``, the root included."""
    out = {path}
    if isinstance(data, dict):
        for k, v in data.items():
            out |= tree_paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out |= tree_paths(v, (*path, i))
    return out


def at(text: str, line: int, col: int) -> str:
    """The text from 1-based ``line:col`` to the end of that line."""
    return text.splitlines()[line - 1][col - 1:]


def assert_positions_point_at_their_tokens(text: str, data: Any, positions: dict[Any, tuple[int, int]]) -> None:
    assert set(positions) == tree_paths(data)
    for path, (line, col) in positions.items():
        if not path:
            continue
        parent: Any = data
        for part in path[:-1]:
            parent = parent[part]
        here = at(text, line, col)
        last = path[-1]
        if isinstance(last, str):  # a mapping key: the key itself, or its opening quote
            assert here.startswith(last) or here[:1] in "'\"?", (path, here)
        else:  # a list item: its value starts here (a scalar's text, a quote, or a collection's bracket)
            value = parent[last]
            if isinstance(value, str) and value and here[:1] not in "'\"":
                assert here.startswith(value.split("\n")[0].strip()[:8]), (path, here)
            elif isinstance(value, dict | list) and here[:1] in "[{":
                assert here[0] == ("{" if isinstance(value, dict) else "["), (path, here)


@PROFILE
@given(DOCUMENTS, st.booleans())
def test_any_document_round_trips_with_its_positions(data: Any, flow: bool) -> None:
    text = dump(data, flow=flow)
    doc = parse_yaml(text, "specs/x.yaml")
    assert same(doc.data, data), text
    assert_positions_point_at_their_tokens(text, data, doc.positions)


@PROFILE
@given(specs(), st.booleans())
def test_any_valid_spec_round_trips_and_the_schema_still_accepts_it(data: dict[str, Any], flow: bool) -> None:
    text = dump(data, flow=flow)
    doc = parse_yaml(text, "specs/lab/iris.yaml")
    assert same(doc.data, data)
    assert ModelSpec.model_validate(doc.data).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert_positions_point_at_their_tokens(text, data, doc.positions)


class CountingParse:
    """``yaml.parse`` that counts the events the loader takes from libyaml."""

    def __init__(self) -> None:
        self.events = 0
        self.real = yaml.parse

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for event in self.real(*args, **kwargs):
            self.events += 1
            yield event


YAMLISH = st.text(st.one_of(st.sampled_from(list("-:?[]{},&*!|>'\"%@`# \n\t")), YAML_CHARS), max_size=200)


@PROFILE
@given(YAMLISH)
def test_any_text_gives_a_document_or_a_yaml_error_after_linear_work(text: str) -> None:
    counter = CountingParse()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader.yaml, "parse", counter)
        try:
            parse_yaml(text, "specs/x.yaml")
        except YamlError as exc:
            assert exc.file == "specs/x.yaml" and exc.line >= 1 and exc.col >= 1
    # each event but the stream and document frames consumes at least one character of the text
    assert counter.events <= 2 * len(text) + 8


@pytest.mark.parametrize("opener,closer", [("[", "]"), ("{a: ", "}"), ("- ", "")])
def test_deep_nesting_stops_at_the_limit_without_parsing_on(monkeypatch: pytest.MonkeyPatch, opener: str,
                                                              closer: str) -> None:
    counter = CountingParse()
    monkeypatch.setattr(loader.yaml, "parse", counter)
    depth = 5000
    if opener == "- ":
        text = "".join("  " * i + "-\n" for i in range(500))  # 500 levels of indentation stay under 1 MiB
    else:
        text = opener * depth + "1" + closer * depth
    with pytest.raises(YamlError, match="nesting deeper than 8 levels"):
        parse_yaml(text, "specs/deep.yaml", max_depth=8)
    # stream, document, then per level its start event (and a mapping's key) up to the first level too deep:
    # the parser is stopped there, not run over the other 4,990 levels
    assert counter.events <= 2 * 9 + 4
