"""The quantization study: fake quantization, PTQ and QAT at 2-8 bits, minifloats."""
