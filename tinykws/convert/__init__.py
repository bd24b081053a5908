"""From a trained float model to an int8 TFLite model and the Arduino C array."""
