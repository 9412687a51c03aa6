"""Reading and writing videos with PyAV (FFmpeg's libraries, shipped inside the `av` wheels) and GIFs with Pillow.

`write_video(path, frames, fps)` picks the format by the extension:
- `.mp4`: H.264 (libx264, CRF 18, yuv420p: the pixel format every player and browser decodes). 4:2:0 chroma
  needs an even width and height, so an odd-sized frame is padded by one row/column repeating its last one
  (a 101x75 video is stored as 102x76); `read_video` returns the stored (padded) size.
- `.webm`: VP9 (libvpx-vp9, yuv420p, constant quality), the same padding.
- `.gif`: a looping animation (Pillow, one adaptive 256-colour palette per frame). GIF stores frame
  durations in hundredths of a second, so the rate read back is 100 / round(100 / fps) (10, 20, 25, 50 fps
  are exact; 30 fps reads back as 33.3).
The file is written beside `path` and renamed over it at the end: a failing run leaves an earlier file whole.
`VideoWriter` writes one frame at a time, for several videos made in one pass.

`read_video(path)` reads any video FFmpeg decodes (.mp4, .webm, .avi, .mov, .mkv, .gif, ...) or a folder of
frames (image files in natural order: frame_2 before frame_10), lazily, as (H, W, 3) uint8 RGB arrays.
"""
from __future__ import annotations

import os
import re
from fractions import Fraction
from typing import Iterable, Iterator

import numpy as np

from util.errors import DataError, UserError

VIDEO_EXTENSIONS = (".mp4", ".webm", ".gif")          # what write_video writes
DEFAULT_FOLDER_FPS = 25.0                              # a folder of frames has no rate of its own
_CODECS = {".mp4": ("libx264", {"crf": "18", "preset": "medium"}),
           ".webm": ("libvpx-vp9", {"crf": "30", "b": "0", "row-mt": "1"})}
_FORMATS = {".mp4": "mp4", ".webm": "webm"}


def write_video(path: str, frames: Iterable[np.ndarray], fps: float) -> None:
    """Write `frames` ((H, W, 3) uint8 arrays, all the same size) to `path` at `fps` frames a second, consuming
    them one at a time (except for GIFs, which Pillow holds whole). Raises `UserError` for an unknown extension,
    an unwritable path, a bad rate or no frame at all; `ValueError` for frames of the wrong shape or type."""
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)


class VideoWriter:
    """`write_video` one frame at a time, for several videos written in one pass:

        with VideoWriter("out.mp4", 25) as out, VideoWriter("side.gif", 25) as side:
            out.write(frame) ...

    The file is written beside `path` and renamed over it when the block ends without an error; otherwise it
    is removed and an earlier `path` stays as it was."""

    def __init__(self, path: str, fps: float):
        self.path, self.fps = path, fps
        self.ext = os.path.splitext(path)[1].lower()
        if self.ext not in VIDEO_EXTENSIONS:
            raise UserError(f"cannot write video {path}: "
                            + (f"unknown extension {self.ext}" if self.ext else "no extension")
                            + f" (use {', '.join(VIDEO_EXTENSIONS)})")
        if not (np.isfinite(fps) and fps > 0):
            raise UserError(f"cannot write video {path}: the frame rate must be a positive number, not {fps}")
        folder = os.path.dirname(os.path.abspath(path))
        self.tmp = os.path.join(folder, f".{os.path.basename(path)}.partial-{os.getpid()}{self.ext}")
        self.count, self.size = 0, None
        self._container = self._stream = None
        self._images: list = []

    def __enter__(self) -> VideoWriter:
        try:
            os.makedirs(os.path.dirname(self.tmp), exist_ok=True)
            if self.ext == ".gif":
                open(self.tmp, "wb").close()
            else:
                import av
                self._container = av.open(self.tmp, mode="w", format=_FORMATS[self.ext],
                                          options={"movflags": "+faststart"} if self.ext == ".mp4" else {})
        except OSError as e:
            raise UserError(f"cannot write video {self.path}: {e.strerror or e}") from None
        return self

    def write(self, frame: np.ndarray) -> None:
        """Add one (H, W, 3) uint8 frame, the size of the first."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {self.count} must be an (H, W, 3) uint8 array, not {frame.dtype} {frame.shape}")
        if self.size is None:
            self.size = frame.shape
        elif frame.shape != self.size:
            raise ValueError(f"frame {self.count} is {frame.shape[1]}x{frame.shape[0]}, the first was "
                             f"{self.size[1]}x{self.size[0]}")
        if self.ext == ".gif":
            from PIL import Image
            self._images.append(Image.fromarray(frame))
        else:
            self._encode(_pad_even(frame))
        self.count += 1

    def _encode(self, frame: np.ndarray | None) -> None:
        import av

        if self._stream is None:
            codec, options = _CODECS[self.ext]
            self._stream = self._container.add_stream(codec, rate=_rate(self.fps), options=options)
            self._stream.height, self._stream.width = frame.shape[:2]
            self._stream.pix_fmt = "yuv420p"
        picture = None if frame is None else av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self._stream.encode(picture):      # None flushes the encoder's delayed frames
            self._container.mux(packet)

    def __exit__(self, kind, error, traceback) -> None:
        try:
            if kind is None:
                if self.count == 0:
                    raise UserError(f"cannot write video {self.path}: no frames")
                self._finish()
                os.replace(self.tmp, self.path)
        except OSError as e:
            raise UserError(f"cannot write video {self.path}: {e.strerror or e}") from None
        finally:
            if self._container is not None:
                self._container.close()
            if os.path.exists(self.tmp):
                os.remove(self.tmp)

    def _finish(self) -> None:
        if self.ext == ".gif":
            duration = max(10, round(100 / self.fps) * 10)   # milliseconds, in the format's steps of 10 ms
            self._images[0].save(self.tmp, format="GIF", save_all=True, append_images=self._images[1:], loop=0,
                                 duration=duration, optimize=False, disposal=1)
        else:
            self._encode(None)
            self._container.close()
            self._container = None


def _pad_even(frame: np.ndarray) -> np.ndarray:
    """`frame` with its last row/column repeated once where the height/width is odd (4:2:0 needs even sizes)."""
    h, w = frame.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return frame
    return np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _rate(fps: float) -> Fraction:
    """`fps` as a fraction FFmpeg keeps exactly (29.97 -> 2997/100, 30000/1001 stays)."""
    return Fraction(fps).limit_denominator(1001)


def read_video(path: str, fps: float | None = None) -> tuple[Iterator[np.ndarray], float, int | None]:
    """(frames, frames per second, frame count or None where the file does not say) of a video file or of a
    folder of frames. The frames are decoded lazily as (H, W, 3) uint8 RGB arrays. `fps` is the rate of a
    folder of frames (default `DEFAULT_FOLDER_FPS`); a video file's own rate is used, and `fps` ignored.
    Raises `DataError` naming the file for a missing, corrupt or unreadable video or frame."""
    if os.path.isdir(path):
        return _read_folder(path, DEFAULT_FOLDER_FPS if fps is None else fps)
    if not os.path.isfile(path):
        raise DataError(f"video not found: {path}")
    import av

    try:
        container = av.open(path, mode="r")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read video {path}: {_one_line(e)}") from None
    if not container.streams.video:
        container.close()
        raise DataError(f"cannot read video {path}: it holds no video stream")
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or float(rate) <= 0:
        container.close()
        raise DataError(f"cannot read video {path}: it does not say its frame rate")
    count = int(stream.frames) or None
    return _decode(container, stream, path), float(rate), count


def _decode(container, stream, path: str) -> Iterator[np.ndarray]:
    """The frames of `stream` as RGB arrays; the container is closed when they run out or the iterator is
    dropped. A frame that fails to decode ends the video with a `DataError` naming the file."""
    import av

    try:
        n = 0
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")
            n += 1
        if n == 0:
            raise DataError(f"cannot read video {path}: no frame could be decoded")
    except av.FFmpegError as e:
        raise DataError(f"cannot read video {path}: {_one_line(e)}") from None
    finally:
        container.close()


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _read_folder(folder: str, fps: float) -> tuple[Iterator[np.ndarray], float, int]:
    from data.image_folder import is_image_file

    if not (np.isfinite(fps) and fps > 0):
        raise UserError(f"the frame rate of the frames in {folder} must be a positive number, not {fps}")
    names = sorted((name for name in os.listdir(folder) if is_image_file(name)), key=_natural_key)
    if not names:
        raise DataError(f"no image files in the frame folder {folder}")
    paths = [os.path.join(folder, name) for name in names]
    return _load_frames(paths), float(fps), len(paths)


def _load_frames(paths: list[str]) -> Iterator[np.ndarray]:
    from data.image_folder import load_image

    size = None
    for path in paths:
        frame = np.asarray(load_image(path, "RGB"))
        if size is None:
            size = frame.shape
        elif frame.shape != size:
            raise DataError(f"frame {path} is {frame.shape[1]}x{frame.shape[0]}, the first frame of its folder "
                            f"is {size[1]}x{size[0]}")
        yield frame


def _one_line(e: BaseException) -> str:
    """FFmpeg's and the OS's reason without the error number and file name they repeat."""
    return " ".join(str(getattr(e, "strerror", None) or e).split()) or type(e).__name__
