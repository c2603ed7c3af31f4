"""Kubernetes/Argo names: valid values pass unchanged; others are mapped deterministically, or refused."""

from __future__ import annotations

import pytest

from engine.spec.errors import InputError
from engine.validation.k8s_names import (
    argo_field_name,
    dns_label,
    is_dns_label,
    is_label_value,
    label_value,
    short_hash,
    unique_names,
)


def test_valid_names_are_unchanged() -> None:
    assert dns_label("readmission-triage") == "readmission-triage"
    assert argo_field_name("Clinical-Model-1") == "Clinical-Model-1"  # Argo allows upper case in task names
    assert label_value("clinical/readmission-triage") == "clinical.readmission-triage"
    assert label_value("1.0.0") == "1.0.0"


def test_invalid_names_are_mapped_with_a_hash() -> None:
    name = dns_label("Readmission_Triage")
    assert name == f"readmission-triage-{short_hash('Readmission_Triage')}"
    assert is_dns_label(name)
    assert dns_label("Readmission_Triage") == name  # deterministic
    assert dns_label("readmission.triage") != dns_label("readmission_triage")  # no silent collision
    long = dns_label("x" * 300, max_len=63)
    assert len(long) == 63 and is_dns_label(long)
    assert label_value("1.0.0+build_7") == f"1.0.0-build_7-{short_hash('1.0.0+build_7')}"
    assert is_label_value(label_value("-leading and trailing-"))
    assert len(label_value("t/" + "m" * 200)) == 63
    assert is_label_value(label_value("///"))


def test_unmappable_names_are_refused() -> None:
    with pytest.raises(InputError, match="cannot make a Kubernetes name from tier '__'"):
        dns_label("__", what="tier")


def test_collisions_get_distinct_names() -> None:
    keys = ["a/b-c/perf", "a-b/c/perf", "x/y/perf"]
    make = {"a/b-c/perf": "a-b-c-perf", "a-b/c/perf": "a-b-c-perf", "x/y/perf": "x-y-perf"}
    out = unique_names(keys, make)
    assert out["x/y/perf"] == "x-y-perf"
    assert out["a/b-c/perf"] != out["a-b/c/perf"]
    assert out["a/b-c/perf"] == f"a-b-c-perf-{short_hash('a/b-c/perf')}"
