"""Junction's edge worker: turns camera video into anonymous traffic counts at the pole.

It imports nothing from Django and installs on its own (`pip install .[edge]`).
"""

__version__ = "0.1.0"
