"""Tests of the gateway stage."""
