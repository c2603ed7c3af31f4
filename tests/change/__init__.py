"""Tests of the change stage."""
