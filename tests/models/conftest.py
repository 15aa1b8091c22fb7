import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread(request):
    """VAE / text-encoder tests use tiny tensors: one thread is as fast and avoids OpenMP thrashing on a
    shared 2-core machine. The STDiT3 tests keep the default thread count."""
    if request.module.__name__.endswith("test_stdit3"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
