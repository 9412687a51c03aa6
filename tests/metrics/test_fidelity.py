"""FID, KID and IS through torch-fidelity's own network loading, on a random-weights file in its format."""
import numpy as np
import pytest
import torch
from scipy import linalg

from metrics import fidelity, weights
from metrics.evaluate import Settings, score
from tests.metrics.conftest import write_images
from util.errors import UserError


def closed_form(mu1, cov1, mu2, cov2) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^1/2), with scipy's matrix square root."""
    root = linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1 + cov2 - 2 * root))


def test_fid_of_gaussian_features_is_the_closed_form():
    rng = np.random.default_rng(0)
    d = 8
    a = rng.normal(size=(d, d))
    cov1, cov2 = a @ a.T / d + np.eye(d), np.diag(rng.uniform(0.5, 2, d))
    mu1, mu2 = np.zeros(d), rng.normal(size=d)
    x = torch.from_numpy(rng.multivariate_normal(mu1, cov1, 20000))
    y = torch.from_numpy(rng.multivariate_normal(mu2, cov2, 20000))
    sample = closed_form(x.numpy().mean(0), np.cov(x.numpy(), rowvar=False),
                         y.numpy().mean(0), np.cov(y.numpy(), rowvar=False))
    assert fidelity.fid(x, y) == pytest.approx(sample, rel=1e-8)
    # and the population's, within the sampling error of 20000 draws
    assert fidelity.fid(x, y) == pytest.approx(closed_form(mu1, cov1, mu2, cov2), rel=0.02)


def test_kid_is_unbiased_and_near_zero_for_one_distribution():
    g = torch.Generator().manual_seed(0)
    x, y, shifted = (torch.randn(2000, 32, generator=g, dtype=torch.float64) + shift for shift in (0, 0, 0.3))
    far, _, size = fidelity.kid(x, shifted, subsets=20, subset_size=1000)
    independent, std, _ = fidelity.kid(x, y, subsets=20, subset_size=1000)
    itself, _, _ = fidelity.kid(x, x, subsets=20, subset_size=1000)
    assert size == 1000 and far > 0.2
    assert abs(independent) < 0.01 * far and abs(independent) < 2 * std
    # the same images on both sides: only the overlap of the random subsets biases it (downwards)
    assert abs(itself) < 0.05 * far


def test_the_numbers_are_torch_fidelitys_own(inception_file, tmp_path):
    """Images read one by one at their own size give what torch-fidelity's folder pipeline gives (its loading,
    299x299 resize, statistics)."""
    import torch_fidelity
    fake = write_images(tmp_path / "fake", 6, seed=0)
    other = write_images(tmp_path / "other", 6, seed=1, colour=(200, 30, 30), size=(40, 40))
    settings = Settings(inception_weights=inception_file, kid_subsets=10, kid_subset_size=5, is_splits=2)
    ours = score(["kid", "is"], settings, torch.device("cpu"), fake, other)
    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "fake"), input2=str(tmp_path / "other"), kid=True, isc=True, cuda=False,
        feature_extractor_weights_path=inception_file, kid_subsets=10, kid_subset_size=5, isc_splits=2,
        rng_seed=0, cache=False, verbose=False, save_cpu_ram=True)
    assert ours["kid_x100"]["mean"] > 0.01
    assert ours["kid_x100"]["mean"] == pytest.approx(100 * theirs["kernel_inception_distance_mean"], rel=1e-3)
    assert ours["kid_x100"]["std"] == pytest.approx(100 * theirs["kernel_inception_distance_std"], rel=1e-3)
    assert ours["is"]["mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-4)
    assert (ours["kid_x100"]["n_fake"], ours["kid_x100"]["n_real"], ours["kid_x100"]["subset_size"],
            ours["is"]["n"]) == (6, 6, 5, 6)
    assert len(ours["warnings"]) == 2 and "KID on 5 images: fewer than the 1000" in ours["warnings"][0]


def test_fid_of_a_set_with_itself_is_zero_whatever_the_batching(inception_file, tmp_path):
    net = fidelity.inception(inception_file, torch.device("cpu"), ["64", fidelity.POOL])
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
              for i in range(3)] + [torch.zeros(3, 40, 24, dtype=torch.uint8)]
    together = fidelity.features(net, images, 4, torch.device("cpu"), batch_size=8)
    alone = fidelity.features(net, images, 4, torch.device("cpu"), batch_size=1)
    assert together["64"].shape == (4, 64) and together[fidelity.POOL].shape == (4, 2048)
    torch.testing.assert_close(together[fidelity.POOL], alone[fidelity.POOL], rtol=1e-4, atol=1e-6)
    # FID at the 64-feature layer: the 2048 one costs a 2048x2048 eigendecomposition (tens of seconds on 2 cores)
    # and takes the same code path
    scale = 2 * float(torch.cov(together["64"].T).trace())
    assert scale > 1e-3 and abs(fidelity.fid(together["64"], alone["64"])) < 1e-6 * scale
    fake = write_images(tmp_path / "fake", 4, seed=0)
    other = write_images(tmp_path / "other", 4, seed=1, colour=(200, 30, 30))
    settings = Settings(inception_weights=inception_file, fid_features="64")
    same = score(["fid"], settings, torch.device("cpu"), fake, fake)["fid"]
    different = score(["fid"], settings, torch.device("cpu"), fake, other)["fid"]
    assert (different["features"], different["n_fake"], different["n_real"]) == (64, 4, 4)
    assert abs(same["value"]) < 1e-6 * different["value"] and different["value"] > 1e-3


def test_missing_inception_weights_name_the_file_and_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(weights.MissingWeights) as e:
        weights.inception().resolve(None)
    message = str(e.value)
    assert "weights-inception-2015-12-05-6726825d.pth" in message and "--inception_weights" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "\n" not in message
    cached = tmp_path / "hub" / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert weights.inception().resolve(None) == str(cached)
    with pytest.raises(weights.MissingWeights, match=r"^--inception_weights nowhere.pth: no such file \(the "
                       r"Inception-v3 .* weights: https://github.com/toshas/torch-fidelity/releases/.*6726825d.pth\)$"):
        weights.inception().resolve("nowhere.pth")


def test_a_file_of_another_network_is_one_line(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(UserError, match="cannot load the Inception-v3 weights") as e:
        fidelity.inception(str(path), torch.device("cpu"))
    assert "\n" not in str(e.value)
