"""Threat assessment: protected assets, where each track is going, what it
would cost if it got there."""

from airshield.assess.assets import ASSET_KINDS, Assets, load_assets
from airshield.assess.threat import Assessment, ThreatParams, assess, describe, normalise_p_class

__all__ = ["ASSET_KINDS", "Assessment", "Assets", "ThreatParams", "assess", "describe",
           "load_assets", "normalise_p_class"]
