import pytest
import torch

from har.errors import ConfigError
from har.models import ActivityClassifier, FeatureExtractor, Regressor
from har.models.deep_conv_lstm import DeepConvLSTM
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


def test_residual_blocks_add_a_second_conv_and_a_shortcut():
    plain = FeatureExtractor(n_filters=8, n_conv=2)
    residual = FeatureExtractor(n_filters=8, n_conv=2, residual=True)
    assert residual(torch.randn(4, 3, 64)).shape == plain(torch.randn(4, 3, 64)).shape
    block = residual.blocks[0]
    assert block.conv2.in_channels == block.conv2.out_channels == 8
    assert (block.shortcut.in_channels, block.shortcut.kernel_size) == (3, (1,))
    # The shortcut carries the input around the two convs: with them silenced it alone remains.
    torch.nn.init.zeros_(block.conv.weight)
    torch.nn.init.zeros_(block.conv2.weight)
    x = torch.randn(4, 3, 64)
    assert block.eval()(x, "real", side_pass=True).abs().sum() > 0


@pytest.mark.parametrize("domain_norm", ["shared_affine", "separate", "shared"])
def test_deep_conv_lstm_is_a_feature_extractor(domain_norm):
    f = DeepConvLSTM(
        input_channels=6,
        n_filters=8,
        n_conv=2,
        out_features=12,
        lstm_layers=1,
        drop_prob=0.5,
        domain_norm=domain_norm,
    ).train()
    x = torch.randn(5, 6, 40)
    assert f(x).shape == (5, 12) and f.out_features == 12
    # A side pass has no dropout (two calls agree) and leaves BatchNorm's running statistics alone.
    before = [p.clone() for n, p in f.named_buffers() if "running_mean" in n]
    assert torch.equal(f(x, side_pass=True), f(x, side_pass=True))
    after = [p for n, p in f.named_buffers() if "running_mean" in n]
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    assert not torch.equal(f(x), f(x))  # the main pass drops out


def test_deep_conv_lstm_sees_the_whole_window():
    torch.manual_seed(0)
    f = DeepConvLSTM(n_filters=8, n_conv=1, out_features=8, lstm_layers=1).eval()
    x = torch.randn(1, 3, 16)
    early = x.clone()
    early[..., 0] += 5.0  # the first sample reaches the last hidden state through the LSTM
    assert (f(x) - f(early)).abs().max() > 1e-6


DCL_BASE = {"n_filters": 8, "filter_size": 5, "n_conv": 2, "out_features": 12, "lstm_layers": 1}
DCL_BASE |= {"drop_prob": 0.1, "domain_norm": "shared_affine"}
DCL_KNOBS = [("n_filters", 6), ("filter_size", 3), ("n_conv", 3), ("out_features", 10)]
DCL_KNOBS += [("lstm_layers", 2), ("drop_prob", 0.9), ("domain_norm", "separate")]


@pytest.mark.parametrize(("knob", "value"), DCL_KNOBS)
def test_every_deep_conv_lstm_knob_changes_the_network(knob, value):
    def built(**settings):
        torch.manual_seed(0)
        f = DeepConvLSTM(input_channels=3, **settings).train()
        torch.manual_seed(1)  # the same window and dropout draws for both
        return {n: tuple(p.shape) for n, p in f.named_parameters()}, f(torch.randn(4, 3, 32))

    (shapes, out), (shapes_changed, out_changed) = (
        built(**DCL_BASE),
        built(**{**DCL_BASE, knob: value}),
    )
    assert shapes != shapes_changed or not torch.allclose(out, out_changed)


STATS = {"autocorr_lags_s": [0.1], "bands_hz": [[0, 5], [5, 50]]}


def test_window_statistics_sit_beside_the_convolutions_in_sensor_units():
    plain = FeatureExtractor(input_channels=6, n_filters=4, n_conv=2, n_dense=0)
    hybrid = FeatureExtractor(
        input_channels=6, n_filters=4, n_conv=2, n_dense=0, window_features=STATS, rate_hz=100
    )
    count = hybrid.statistics.features.count(6, 100, 64)
    assert hybrid.out_features == plain.out_features + count
    x = torch.randn(5, 6, 64)
    assert hybrid.train()(x).shape == (5, plain.out_features + count)
    # The statistics see sensor units: the training statistics given at fit start change them.
    hybrid.eval()
    before = hybrid(x)
    hybrid.set_units(torch.full((6,), 9.81), torch.full((6,), 2.0))
    assert not torch.allclose(hybrid(x), before)
    assert set(hybrid.state_dict()) >= {"statistics.mean", "statistics.std"}  # in checkpoints
    # Simulated windows use the sim statistics of the branch's BatchNorm, as the convolutions do.
    real = hybrid.statistics.norm.norms["real"].running_mean.clone()
    hybrid.train()(x, domain="sim")
    assert torch.equal(hybrid.statistics.norm.norms["real"].running_mean, real)


def test_window_statistics_need_the_rate():
    with pytest.raises(ConfigError, match="rate_hz"):
        FeatureExtractor(window_features=STATS)


def test_window_statistics_keep_the_lags_that_fit_a_short_window(caplog):
    settings = {"autocorr_lags_s": [0.1, 1.0], "bands_hz": [[0, 5]]}
    f = FeatureExtractor(window_size=64, window_features=settings, rate_hz=100)
    f(torch.randn(2, 3, 64))
    names = f.statistics.features.names
    assert len(names) == f.statistics.out_features and "ch0_acf_0.1s" in names
    assert not any("acf_1s" in name for name in names)
    assert "autocorr_lags_s: [1.0] s do not fit a window of 64 samples" in caplog.text
    with pytest.raises(ConfigError, match=r"model\.feature_extractor\.window_features\.bands_hz"):
        FeatureExtractor(window_features={**settings, "bands_hz": [[5, 1]]}, rate_hz=100)


def test_one_window_in_training_is_normalised_with_the_running_statistics():
    """A scarce-IMU batch may hold one real window: the statistics' BatchNorm sees one value per
    channel, which has no batch statistics."""
    f = FeatureExtractor(n_filters=4, n_conv=2, window_features=STATS, rate_hz=100).train()
    out = f(torch.randn(1, 3, 64))
    assert out.shape == (1, f.out_features) and torch.isfinite(out).all()
    running = f.statistics.norm.norms["real"].running_mean
    assert torch.equal(running, torch.zeros_like(running))  # left alone
