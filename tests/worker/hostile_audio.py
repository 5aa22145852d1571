"""A small file that decodes to a lot of audio, and the peak RSS of decoding it in a fresh process.

    python tests/worker/hostile_audio.py write FILE [--minutes 25 --channels 8 --rate 48000]
    python tests/worker/hostile_audio.py measure FILE [--max-seconds 12]

`measure` prints one JSON line: the process's peak RSS before and after `decode_reference` and
their difference in MB. Peak RSS is VmHWM from /proc/self/status (Linux): getrusage's ru_maxrss
would do, except that a child started by vfork (as subprocess does) inherits its parent's figure,
so under a large pytest process it would hide the decoding's peak. It imports `worker.audio`
from PYTHONPATH, so the same command measures any checkout of the worker. Standard library,
numpy and soundfile only (it must run against old checkouts too).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf


def constant_flac(minutes: float, channels: int, rate: int, level: int = 9830) -> bytes:
    """FLAC of one constant sample value (0.3 of full scale) in every channel.

    FLAC stores a constant block in a few bytes, so 25 minutes of 8 channels at 48 kHz (576 M
    samples, 2.3 GB as float32) is about 0.6 MB: well under the 10 MB upload limit.
    """
    block = np.full((min(rate * 10, int(minutes * 60 * rate)), channels), level, dtype=np.int16)
    left = int(minutes * 60 * rate)
    buf = io.BytesIO()
    with sf.SoundFile(buf, "w", rate, channels, format="FLAC", subtype="PCM_16") as f:
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    return buf.getvalue()


def peak_rss_kb() -> int:
    """The high-water mark of this process's resident memory, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure(path: Path, max_seconds: float) -> dict[str, float]:
    """Peak RSS of this process before and after decoding `path` (the bytes are read first)."""
    from worker import audio  # from PYTHONPATH: the checkout being measured

    data = path.read_bytes()
    before = peak_rss_kb()
    wave = audio.decode_reference(data, "ref_audio_base64", max_seconds)
    after = peak_rss_kb()
    return {
        "file_bytes": len(data),
        "max_seconds": max_seconds,
        "decoded_seconds": round(len(wave) / audio.SAMPLE_RATE, 3),
        "peak_rss_before_kb": before,
        "peak_rss_after_kb": after,
        "peak_rss_delta_mb": round((after - before) / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write")
    write.add_argument("file", type=Path)
    write.add_argument("--minutes", type=float, default=25)
    write.add_argument("--channels", type=int, default=8)
    write.add_argument("--rate", type=int, default=48_000)
    meas = sub.add_parser("measure")
    meas.add_argument("file", type=Path)
    meas.add_argument("--max-seconds", type=float, default=12.0)
    args = parser.parse_args(argv)
    if args.command == "write":
        args.file.write_bytes(constant_flac(args.minutes, args.channels, args.rate))
        print(f"wrote {args.file} ({args.file.stat().st_size} bytes)")
    else:
        print(json.dumps(measure(args.file, args.max_seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
