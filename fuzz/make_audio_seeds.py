"""Writes the seed files of the import_audio fuzz target (WAV is git-ignored, so they are made):
short tones as 16-bit and 8-bit PCM, mono and stereo, at two rates."""
import math
import struct
import sys
import wave
from pathlib import Path

out = Path(sys.argv[1] if len(sys.argv) > 1 else "seeds/audio")
out.mkdir(parents=True, exist_ok=True)
for rate, channels, width in [(22050, 1, 2), (44100, 2, 2), (8000, 1, 1)]:
    frames = rate // 20
    with wave.open(str(out / f"tone-{rate}-{channels}ch-{8 * width}bit.wav"), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        data = bytearray()
        for i in range(frames):
            s = math.sin(2 * math.pi * 440 * i / rate)
            for _ in range(channels):
                data += struct.pack("<h", int(s * 12000)) if width == 2 else bytes([int(128 + s * 100)])
        w.writeframes(bytes(data))
