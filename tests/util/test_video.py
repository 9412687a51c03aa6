"""Videos in and out (util/video.py): what is written reads back with its frame count, size and rate."""
import os

import numpy as np
import pytest
from PIL import Image

from util.errors import DataError, UserError
from util.video import read_video, write_video


def moving_disk(n: int, h: int, w: int) -> list[np.ndarray]:
    """`n` frames of a white disk moving right on a dark background whose red grows frame by frame."""
    yy, xx = np.mgrid[:h, :w]
    frames = []
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[..., 0] = (20 * i) % 256
        frame[(yy - h / 2) ** 2 + (xx - 8 - 4 * i) ** 2 < (h / 4) ** 2] = 255
        frames.append(frame)
    return frames


@pytest.mark.parametrize("ext", [".mp4", ".webm", ".gif"])
def test_round_trip_keeps_count_size_rate_and_pictures(tmp_path, ext):
    frames = moving_disk(6, 32, 48)
    path = str(tmp_path / ("clip" + ext))
    write_video(path, iter(frames), 10)
    it, fps, count = read_video(path)
    back = list(it)
    assert len(back) == 6 and fps == pytest.approx(10)
    assert count in (6, None)                 # webm does not store its frame count
    assert all(f.shape == (32, 48, 3) and f.dtype == np.uint8 for f in back)
    # lossy codecs change pixels a little, never the picture: each frame is closest to its own original
    errors = np.array([[np.abs(b.astype(int) - f.astype(int)).mean() for f in frames] for b in back])
    assert (errors.argmin(axis=1) == np.arange(6)).all() and errors.diagonal().max() < 4
    assert os.listdir(tmp_path) == ["clip" + ext]         # nothing left beside it


def test_odd_sizes_are_padded_for_h264_and_kept_for_gif(tmp_path):
    frames = moving_disk(3, 31, 45)
    write_video(str(tmp_path / "odd.mp4"), frames, 25)
    write_video(str(tmp_path / "odd.gif"), frames, 25)
    mp4, fps, _ = read_video(str(tmp_path / "odd.mp4"))
    mp4 = list(mp4)
    assert fps == pytest.approx(25) and mp4[0].shape == (32, 46, 3)
    # the padding repeats the last row and column
    assert np.abs(mp4[1][31].astype(int) - mp4[1][30].astype(int)).mean() < 4
    gif = list(read_video(str(tmp_path / "odd.gif"))[0])
    assert len(gif) == 3 and gif[0].shape == (31, 45, 3)


def test_non_integer_rate_survives(tmp_path):
    write_video(str(tmp_path / "ntsc.mp4"), moving_disk(3, 16, 16), 30000 / 1001)
    assert read_video(str(tmp_path / "ntsc.mp4"))[1] == pytest.approx(30000 / 1001)


def test_folder_of_frames_in_natural_order_at_the_given_rate(tmp_path):
    frames = moving_disk(11, 16, 24)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(tmp_path / f"frame_{i}.png")   # frame_10 after frame_9, not after frame_1
    (tmp_path / "notes.txt").write_text("not a frame")
    it, fps, count = read_video(str(tmp_path), fps=12.5)
    assert fps == 12.5 and count == 11
    assert all(np.array_equal(a, b) for a, b in zip(it, frames, strict=True))
    assert read_video(str(tmp_path))[1] == 25.0


def test_folder_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match=f"^no image files in the frame folder {tmp_path}$"):
        read_video(str(tmp_path))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "0.png")
    Image.fromarray(np.zeros((8, 9, 3), np.uint8)).save(tmp_path / "1.png")
    with pytest.raises(DataError, match=r"^frame .*1\.png is 9x8, the first frame of its folder is 8x8$"):
        list(read_video(str(tmp_path))[0])


def test_corrupt_or_missing_video_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all " * 50)
    with pytest.raises(DataError, match=f"^cannot read video {bad}: [^\n]+$"):
        read_video(str(bad))
    with pytest.raises(DataError, match=f"^video not found: {tmp_path / 'none.mp4'}$"):
        read_video(str(tmp_path / "none.mp4"))
    # a file cut short after its header fails while decoding, still naming the file
    good = tmp_path / "good.mp4"
    write_video(str(good), moving_disk(20, 64, 64), 10)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=f"^cannot read video {cut}: [^\n]+$"):
        list(read_video(str(cut))[0])


def test_write_errors_are_one_line_and_leave_an_earlier_file(tmp_path):
    frames = moving_disk(2, 8, 8)
    with pytest.raises(UserError, match=r"^cannot write video .*clip\.avi: unknown extension \.avi \(use .mp4"):
        write_video(str(tmp_path / "clip.avi"), frames, 10)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match=f"^cannot write video {blocker}/clip.mp4: "):
        write_video(str(blocker / "clip.mp4"), frames, 10)
    with pytest.raises(UserError, match="rate must be a positive number"):
        write_video(str(tmp_path / "clip.mp4"), frames, 0)
    earlier = tmp_path / "earlier.gif"
    write_video(str(earlier), frames, 10)
    before = earlier.read_bytes()

    def failing():
        yield frames[0]
        raise RuntimeError("the translation failed midway")
    with pytest.raises(RuntimeError):
        write_video(str(earlier), failing(), 10)
    with pytest.raises(UserError, match="no frames"):
        write_video(str(earlier), [], 10)
    with pytest.raises(ValueError, match="frame 1 is 9x8, the first was 8x8"):
        write_video(str(earlier), [frames[0], np.zeros((8, 9, 3), np.uint8)], 10)
    assert earlier.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["earlier.gif", "file"]
