"""A local Slicer package server and helpers to build extension packages (for tests and offline use)."""
