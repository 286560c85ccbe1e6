"""Tests of the transport package, one file per module."""
