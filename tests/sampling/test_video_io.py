"""Reference reading (opensora/sampling/references.py) and the streaming mp4 writer (opensora/utils/video_io.py)."""
import av
import numpy as np
import pytest
import torch

from opensora.sampling.geometry import frames_to_keep
from opensora.sampling.references import read_reference
from opensora.utils.video_io import Mp4Writer, VideoReadError, read_video


def make_clip(path, num_frames, size=(40, 60), fps=24):
    """A clip whose frame i has mean brightness 4 i (so frames can be told apart after compression)."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[1], size[0], "yuv420p"
        stream.options = {"crf": "0"}
        for i in range(num_frames):
            array = np.full((size[0], size[1], 3), 4 * i + 10, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def _level(x):  # (3, T, H, W) in [-1, 1] -> per-frame brightness 0..255
    return ((x.mean(dim=(0, 2, 3)) + 1) * 127.5).round().tolist()


def test_frames_to_keep():
    assert frames_to_keep(1445, 24) == 1440
    assert frames_to_keep(1440, 24) == 1440  # a multiple of fps keeps everything (no [:-0] slice)
    assert frames_to_keep(17, 24) == 17  # shorter than a second: kept whole
    assert frames_to_keep(1445, 24, whole_seconds=False) == 1445


def test_read_reference_first_last_and_short(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 20)
    first = read_reference(clip, 17, (32, 48), "first")
    last = read_reference(clip, 17, (32, 48), "last")
    assert first.shape == (3, 17, 32, 48) and first.min() >= -1 and first.max() <= 1
    assert _level(first)[0] == pytest.approx(10, abs=2) and _level(last)[0] == pytest.approx(22, abs=2)
    short = make_clip(tmp_path / "short.mp4", 16)
    with pytest.raises(VideoReadError, match="has 16 frames, but at least 17"):
        read_reference(short, 17, (32, 48))
    with pytest.raises(VideoReadError, match="does not exist"):
        read_reference(tmp_path / "missing.mp4", 17, (32, 48))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(VideoReadError, match="cannot read"):
        read_reference(bad, 17, (32, 48))


def test_image_is_a_still_clip(tmp_path):
    path = tmp_path / "still.png"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = 60, 40, "rgb24"
        container.mux(stream.encode(av.VideoFrame.from_ndarray(np.full((40, 60, 3), 200, np.uint8), "rgb24")))
        container.mux(stream.encode(None))
    x = read_reference(path, 17, (32, 48))
    assert x.shape == (3, 17, 32, 48) and torch.equal(x[:, 0], x[:, 16])


def test_writer_streams_even_size_and_keeps_count(tmp_path):
    path = tmp_path / "out.mp4"
    with Mp4Writer(path, fps=24, max_frames=30) as writer:
        for _ in range(3):
            assert writer.write(torch.zeros(3, 17, 33, 47)) in (17, 13, 0)
    assert writer.written == 30 and writer.received == 51
    video = read_video(path)
    assert video.shape == (30, 32, 46, 3)
