"""Tests of the validation stage."""
