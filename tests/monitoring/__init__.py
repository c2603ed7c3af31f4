"""Tests of the monitoring stage."""
