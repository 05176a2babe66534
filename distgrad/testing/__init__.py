"""Test helpers: ``fake_cupy`` (a CuPy stand-in on the CPU)."""
