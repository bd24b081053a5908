"""An estimate of what an int8 model costs on the Arduino Nano 33 BLE Sense.

- :mod:`tinykws.mcu.arena`: TFLM's greedy plan of the tensor arena;
- :mod:`tinykws.mcu.persistent`: the arena's persistent bookkeeping.
"""
