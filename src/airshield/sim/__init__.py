"""Scenarios, threat kinematics and sensor models: a stepping engine whose
state is arrays over all objects, so engagements can remove a threat mid-run."""
