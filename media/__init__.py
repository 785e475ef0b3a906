"""Pure, synchronous audio for the call path.

Modules, one concept each: ``mulaw`` (G.711 mu-law codec), ``resample``
(streaming 8 kHz <-> 16 kHz), ``reframe`` (fixed 20 ms frames from chunks of
any size) and ``recording`` (a two-channel WAV per call). Nothing here does
I/O on the hot path, logs, or uses asyncio; numpy and soxr are the only
dependencies.
"""
