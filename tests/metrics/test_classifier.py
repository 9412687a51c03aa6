"""The domain classifier on a VGG-16 file in torchvision's layout (random weights): fine-tuning, its file, and the
check that scoring uses the VGG-16 it was fine-tuned from."""
import pytest
import torch

from metrics.classifier import DomainClassifier, linear_layers
from tests.metrics.conftest import write_images
from util.errors import UserError


def test_only_the_last_layers_train_and_the_file_holds_only_them(vgg16_file, tmp_path):
    torch.manual_seed(0)         # the new last layer's initialisation and the dropout draw from the global generator
    clf = DomainClassifier.new(vgg16_file, size=32, masked=False, train_layers=2)
    fc6, fc7, fc8 = linear_layers(clf.net)
    assert fc8.out_features == 2
    assert [p.requires_grad for p in (fc6.weight, fc7.weight, fc8.weight)] == [False, True, True]
    assert not any(p.requires_grad for p in clf.net.features.parameters())
    before = fc6.weight.clone()
    red = [clf.resize(x) for x in map(_pixels, write_images(tmp_path / "red", 4, 0, (220, 30, 30)))]
    blue = [clf.resize(x) for x in map(_pixels, write_images(tmp_path / "blue", 4, 1, (30, 30, 220)))]
    losses = clf.fit(red + blue, [0] * 4 + [1] * 4, epochs=4, batch_size=4, lr=1e-4, seed=0)
    assert losses[-1] < losses[0] and torch.equal(fc6.weight, before)
    clf.save(str(tmp_path / "cls.pth"), {})
    saved = torch.load(tmp_path / "cls.pth", weights_only=True)
    assert sorted(saved["state_dict"]) == ["classifier.3.bias", "classifier.3.weight", "classifier.6.bias",
                                           "classifier.6.weight"]
    loaded = DomainClassifier.load(str(tmp_path / "cls.pth"), vgg16_file, torch.device("cpu"))
    images = torch.stack(red + blue)
    torch.testing.assert_close(loaded.net(loaded.prepare(images)), clf.net(clf.prepare(images)))


def test_scoring_with_another_vgg16_file_is_refused(vgg16_file, tmp_path):
    clf = DomainClassifier.new(vgg16_file, size=32, masked=False, train_layers=1)
    clf.save(str(tmp_path / "cls.pth"), {})
    other = tmp_path / "other_vgg16.pth"
    state = torch.load(vgg16_file, weights_only=True, mmap=True)
    torch.save({**state, "features.0.bias": state["features.0.bias"] + 1}, other)
    with pytest.raises(UserError, match="fine-tuned from another VGG-16 file"):
        DomainClassifier.load(str(tmp_path / "cls.pth"), str(other), torch.device("cpu"))


def _pixels(path):
    from metrics.images import read_rgb
    return read_rgb(path)
