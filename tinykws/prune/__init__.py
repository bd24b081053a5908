"""The pruning study: magnitude (unstructured) and channel (structured) pruning of any zoo model."""
