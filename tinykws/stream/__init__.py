"""Streaming keyword recognition over long recordings, as micro_speech runs on a device."""
