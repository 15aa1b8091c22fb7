"""OpenSoraVAE_V1_2: checkpoint layout (meta device), tiny-model shapes, chunking, loading, errors."""
import pytest
import torch

from opensora.models.vae import OpenSoraVAE_V1_2, TemporalVAE, opensora_vae_v1_2_tiny
from opensora.models.vae.vae_temporal import CausalConv3d, depth_to_space_time
from opensora.registry import MODELS, build_module
from opensora.utils.ckpt import CheckpointMismatchError, WeightsNotFoundError, save_safetensors


@pytest.fixture(scope="module")
def vae(_one_thread):
    torch.manual_seed(0)
    return opensora_vae_v1_2_tiny().eval()


def _video(frames, h=32, w=48, seed=1):
    return torch.rand(1, 3, frames, h, w, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _latent(latents, seed=2):
    return torch.randn(1, 4, latents, 4, 6, generator=torch.Generator().manual_seed(seed))


# ---- published layout ----------------------------------------------------------------------------
def test_full_size_state_dict_matches_published_checkpoint():
    with torch.device("meta"):
        model = OpenSoraVAE_V1_2()
    sd = model.state_dict()
    assert len(sd) == 517
    assert sum(k.startswith("spatial_vae.module.") for k in sd) == 248
    assert sum(k.startswith("temporal_vae.") for k in sd) == 267
    assert sd["scale"].shape == sd["shift"].shape == (1, 4, 1, 1, 1)
    assert sum(p.numel() for p in model.parameters()) == 393_341_007
    assert sum(p.numel() for p in model.temporal_vae.parameters()) == 309_687_144
    assert sum(p.numel() for p in model.spatial_vae.parameters()) == 83_653_863
    assert sd["spatial_vae.module.encoder.mid_block.attentions.0.to_out.0.weight"].shape == (512, 512)
    assert sd["temporal_vae.encoder.conv_blocks.1.conv.weight"].shape == (256, 256, 3, 3, 3)
    assert sd["temporal_vae.decoder.conv_blocks.2.conv.weight"].shape == (1024, 512, 3, 3, 3)
    assert sd["temporal_vae.quant_conv.conv.weight"].shape == (8, 8, 1, 1, 1)
    assert not any(k.startswith(("temporal_vae.encoder.conv_blocks.0.", "temporal_vae.decoder.conv_blocks.0."))
                   for k in sd)
    sizes = (model.out_channels, model.micro_frame_size, model.latents_per_chunk, model.micro_batch_size)
    assert sizes == (4, 17, 5, 4)


def test_normalisation_constants(vae):
    assert torch.equal(vae.shift.flatten(), torch.tensor([-0.10, 0.34, 0.27, 0.98]))
    assert torch.equal(vae.scale.flatten(), torch.tensor([3.85, 2.32, 2.33, 3.06]))
    assert vae.spatial_vae.scaling_factor == 0.18215


@pytest.mark.parametrize("frames,latents", [(1, 1), (16, 4), (17, 5), (51, 15), (102, 30), (119, 35), (1445, 425)])
def test_get_latent_size(vae, frames, latents):
    assert vae.get_latent_size([frames, 240, 426]) == [latents, 30, 53]


def test_get_latent_size_keeps_none(vae):
    assert vae.get_latent_size([None, 64, None]) == [None, 8, None]


# ---- layers ---------------------------------------------------------------------------------------
def test_depth_to_space_groups_channels_outer():
    x = torch.arange(2 * 2 * 3).float().reshape(1, 4, 3, 1, 1)  # channels c*2+s
    y = depth_to_space_time(x, 2)
    for c in range(2):
        for t in range(3):
            for s in range(2):
                assert y[0, c, 2 * t + s, 0, 0] == x[0, c * 2 + s, t, 0, 0]


@pytest.mark.parametrize("stride", [1, 2])
def test_causal_conv_sees_only_the_past(stride):
    conv = CausalConv3d(2, 3, 3, stride_t=stride)
    x = torch.randn(1, 2, 8, 5, 5)
    y = conv(x)
    x2 = x.clone()
    x2[:, :, 5:] += 1.0
    y2 = conv(x2)
    keep = 5 if stride == 1 else 2  # stride 2: output t reads inputs 2t-1 .. 2t+1
    assert y.shape[2] == 8 // stride
    assert torch.equal(y[:, :, :keep], y2[:, :, :keep]) and not torch.equal(y, y2)


def test_temporal_vae_pads_front_and_drops_front():
    tvae = TemporalVAE(filters=8, num_res_blocks=1, num_groups=4).eval()
    post = tvae.encode(torch.randn(1, 4, 17, 3, 3))
    assert post.mean.shape == (1, 4, 5, 3, 3)
    assert post.logvar.min() >= -30 and post.logvar.max() <= 20
    assert tvae.decode(post.mode(), 17).shape == (1, 4, 17, 3, 3)
    with pytest.raises(ValueError, match="num_frames=21"):
        tvae.decode(post.mode(), 21)


# ---- tiny model: shapes, chunking, randomness -----------------------------------------------------
@torch.no_grad()
def test_round_trip_shapes(vae):
    z = vae.encode(_video(34), torch.Generator().manual_seed(0))
    assert z.shape == (1, 4, 10, 4, 6)
    assert vae.decode(z, 34).shape == (1, 3, 34, 32, 48)
    z = vae.encode(_video(20), torch.Generator().manual_seed(0))
    assert z.shape == (1, 4, 6, 4, 6)  # 17 -> 5, then 3 -> 1
    assert vae.decode(z, 20).shape == (1, 3, 20, 32, 48)
    assert vae.decode(z).shape == (1, 3, 21, 32, 48)  # default: 17 + 4 per trailing latent
    z = vae.encode(torch.zeros(1, 3, 1, 16, 426))
    assert z.shape == (1, 4, 1, 2, 53) and vae.decode(z, 1).shape == (1, 3, 1, 16, 424)  # odd sizes floor


@torch.no_grad()
def test_chunkwise_decode_equals_whole_decode(vae):
    z = _latent(12)
    whole = vae.decode(z, 40)
    parts = [vae.decode_chunk(z[:, :, :5]), vae.decode_chunk(z[:, :, 5:10]), vae.decode_chunk(z[:, :, 10:], 6)]
    assert [p.shape[2] for p in parts] == [17, 17, 6]
    torch.testing.assert_close(torch.cat(parts, dim=2), whole, rtol=0, atol=1e-6)


@torch.no_grad()
def test_chunks_are_independent(vae):
    z = _latent(10)
    z2 = z.clone()
    z2[:, :, 5:] = _latent(5, seed=9)
    a, b = vae.decode(z, 34), vae.decode(z2, 34)
    torch.testing.assert_close(a[:, :, :17], b[:, :, :17], rtol=0, atol=1e-6)
    assert not torch.allclose(a[:, :, 17:], b[:, :, 17:])
    x = _video(34)
    x2 = x.clone()
    x2[:, :, 17:] = _video(17, seed=5)
    za, zb = (vae.encode(v, torch.Generator().manual_seed(3)) for v in (x, x2))
    torch.testing.assert_close(za[:, :, :5], zb[:, :, :5], rtol=0, atol=1e-6)
    assert not torch.allclose(za[:, :, 5:], zb[:, :, 5:])


@torch.no_grad()
def test_encode_is_reproducible_with_a_generator(vae):
    x = _video(17)
    a = vae.encode(x, torch.Generator().manual_seed(7))
    b = vae.encode(x, torch.Generator().manual_seed(7))
    c = vae.encode(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_inputs_raise(vae):
    with pytest.raises(ValueError, match=r"x must be \(B, 3"):
        vae.encode(torch.zeros(1, 4, 17, 32, 32))
    with pytest.raises(ValueError, match="num_frames=30 encodes to 9 latents"):
        vae.decode(_latent(10), 30)
    with pytest.raises(ValueError, match="1..5 latents"):
        vae.decode_chunk(_latent(6))
    with pytest.raises(ValueError, match="exceeds micro_frame_size"):
        vae.decode_chunk(_latent(5), 18)


# ---- loading --------------------------------------------------------------------------------------
@torch.no_grad()
def test_save_load_round_trip(vae, tmp_path):
    weights = vae.save_pretrained(tmp_path / "snap")
    assert (tmp_path / "snap" / "config.json").is_file()
    z, x = _latent(5), _video(17)
    ref_dec, ref_enc = vae.decode(z), vae.encode(x, torch.Generator().manual_seed(0))
    for source in (weights, tmp_path / "snap", str(weights)):
        torch.manual_seed(123)  # different random init: the outputs must come from the file
        other = build_module(dict(type="OpenSoraVAE_V1_2-tiny", from_pretrained=source), MODELS).eval()
        assert torch.equal(other.decode(z), ref_dec)
        assert torch.equal(other.encode(x, torch.Generator().manual_seed(0)), ref_enc)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(WeightsNotFoundError, match="no such file"):
        opensora_vae_v1_2_tiny(from_pretrained=str(tmp_path / "absent.safetensors"))
    with pytest.raises(WeightsNotFoundError, match="local-dir"):
        opensora_vae_v1_2_tiny(from_pretrained="nobody/no-such-vae")  # HF_HUB_OFFLINE=1 in conftest


def test_wrong_keys_and_shapes_are_listed(vae, tmp_path):
    sd = dict(vae.state_dict())
    sd.pop("scale")
    sd["temporal_vae.extra.weight"] = torch.zeros(1)
    save_safetensors(sd, tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointMismatchError, match=r"missing keys: scale(.|\n)*unexpected keys: temporal_vae.extra"):
        opensora_vae_v1_2_tiny(from_pretrained=tmp_path / "bad.safetensors")
    vae.save_pretrained(tmp_path / "tiny")
    with pytest.raises(CheckpointMismatchError, match="shape mismatches"):
        opensora_vae_v1_2_tiny(temporal=dict(filters=16), from_pretrained=tmp_path / "tiny")
