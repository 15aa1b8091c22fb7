"""from_uint8 / to_uint8: uint8 frames <-> the model's [-1, 1] range, against the closed form and as exact inverses."""
import numpy as np
import pytest
import torch

from opensora.utils.video_io import from_uint8, to_uint8


def test_from_uint8_is_the_closed_form_and_to_uint8_inverts_it():
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 4, 5, 3), dtype=np.uint8)  # (T, H, W, 3)
    x = from_uint8(frames)
    assert x.shape == (3, 3, 4, 5) and x.dtype == torch.float32
    assert x[1, 2, 3, 4].item() == pytest.approx(frames[2, 3, 4, 1] / 127.5 - 1.0, abs=1e-7)  # float32; channel 1, frame 2
    assert x.min() >= -1 and x.max() <= 1
    assert np.array_equal(to_uint8(x), frames)
    assert from_uint8(frames[:, :, ::-1]).shape == (3, 3, 4, 5)  # a strided view is accepted
