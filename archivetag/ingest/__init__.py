"""Reading archives: paths in, timed 16 kHz mono segments or a clear outcome out.

Modules: ``discover`` (walk paths), ``fingerprint`` (cheap identity, full hash),
``probe`` (ffprobe), ``decode`` (ffmpeg pipe), ``mix`` (every channel into one),
``wav_header`` (what a WAV promises), ``segment`` (windows and loudness), ``read`` (one
file end to end), ``outcome`` (how it ended). Kept free of imports so the CLI starts fast.
"""
