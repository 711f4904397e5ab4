import pytest
import torch

from har.errors import ConfigError
from har.models import ActivityClassifier, FeatureExtractor, Regressor
from har.models.regressor import layers_for_context


@pytest.mark.parametrize("t", [64, 100, 256, 401])
def test_regressor_is_length_agnostic(t):
    r = Regressor(num_joints=3)
    assert r(torch.randn(2, 3, 3, t)).shape == (2, 3, t)


def test_sequence_length_sets_receptive_field():
    short, long = Regressor(3, sequence_length=64), Regressor(3, sequence_length=512)
    assert short.n_layers < long.n_layers
    assert short.receptive_field >= 64 and long.receptive_field >= 512
    assert layers_for_context(256, 5, 4) == 5


def test_regressor_output_depends_on_distant_context_only_within_receptive_field():
    torch.manual_seed(0)
    r = Regressor(3, sequence_length=32, downsample=1).eval()
    pose = torch.randn(1, 3, 3, 200)
    changed = pose.clone()
    changed[..., 0] += 10.0  # perturb the first sample only
    diff = (r(pose) - r(changed)).abs().sum(dim=1)[0]
    assert diff[0] > 0
    assert torch.all(diff[r.receptive_field :] == 0)


def test_fc_hidden_and_hidden_change_the_network():
    a, b = Regressor(3, fc_hidden=16), Regressor(3, fc_hidden=128)
    assert sum(p.numel() for p in a.parameters()) < sum(p.numel() for p in b.parameters())


def test_feature_extractor_shapes_and_knobs():
    f = FeatureExtractor(input_channels=3, n_filters=8, n_conv=2, out_features=24, n_dense=2)
    assert f(torch.randn(4, 3, 128)).shape == (4, 24)
    assert FeatureExtractor(n_dense=0, n_filters=8, n_conv=3).out_features == 32


def test_feature_extractor_rejects_window_shorter_than_pooling():
    with pytest.raises(ConfigError, match=r"data\.sensor_window_length"):
        FeatureExtractor(window_size=4, n_conv=3, pool_size=2)


def test_sim_batches_do_not_touch_real_batchnorm_statistics():
    f = FeatureExtractor(n_filters=4).train()
    real_stats = [b.norm.norms["real"].running_mean.clone() for b in f.blocks]
    f(torch.randn(8, 3, 64) * 5 + 3, domain="sim")
    for block, before in zip(f.blocks, real_stats, strict=True):
        assert torch.equal(block.norm.norms["real"].running_mean, before)
        assert not torch.equal(block.norm.norms["sim"].running_mean, torch.zeros_like(before))


def test_classifier_hidden_layer():
    assert ActivityClassifier(8, 11)(torch.randn(2, 8)).shape == (2, 11)
    assert len(ActivityClassifier(8, 11, hidden=16).net) == 4
