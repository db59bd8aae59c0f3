"""Image sequences: frame patterns, frame ranges, reading and atomic writing (EXR first)."""
