import pytest
import torch


@pytest.fixture
def gen():
    """A seeded generator: every random draw in these tests comes from it."""
    return torch.Generator().manual_seed(1234)
