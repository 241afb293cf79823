"""The live common operational picture: a FastAPI server, a WebSocket feed and a
MapLibre page (see docs/LIVE_PICTURE.md). Nothing here decides anything: it shows
the chain's picture and carries the operator's approvals back to it."""
