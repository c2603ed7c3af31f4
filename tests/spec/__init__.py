"""Tests of the spec stage."""
