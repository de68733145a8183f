"""Tests of the twin (twin/)."""
