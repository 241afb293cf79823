"""Multi-target tracking: reports in, one air picture out.

``tracker.Tracker`` (streaming, ``step(reports, now) -> Picture``) and
``batch.track_run`` (the ``airshield track`` verb) share one code path; the parts
(motion, measurement models, predictor, updater, gate, associator, initiator,
manager) are small modules over track arrays. See docs/TRACKER.md.
"""
