"""Tracking performance metrics behind ``airshield score``.

- ``gospa``: GOSPA (alpha = 2) over every truth step at once, with its
  localisation / missed / false decomposition and the optimal assignment.
- ``align``: truth steps, and which track record stands for each track at a step.
- ``continuity``: track breaks (id switches, gaps), tracks per truth, latency.
- ``coverage``: which truth samples some sensor could see (for GOSPA over the
  observable truth).

``airshield.score`` reads a run directory and puts these together.
"""
