"""airshield: one shared air picture against mass raids of one-way attack drones.

airshield senses, tracks, assesses and *recommends*. It never commands a weapon:
a person approves every engagement.
"""

__version__ = "0.1.0"

# Contract threat classes, in a fixed order used by every array of class
# probabilities in the package (index = position in this tuple).
CLASSES: tuple[str, ...] = ("shahed", "decoy", "jet_drone", "recon", "aircraft", "bird", "unknown")
CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(CLASSES)}

SENSOR_KINDS: tuple[str, ...] = ("radar", "acoustic", "eo", "visual", "adsb")
