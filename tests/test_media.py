"""Media stage: probing, even sampling without reading the whole video, rotation, time stamps,
and the odd image formats, on files written here."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ASTRONAUT_FACE, astronaut
from mediakit import read_stamp, stamp, write_video
from PIL import Image

from dfdemo import media
from dfdemo.errors import MediaError
from dfdemo.faces import iou


@pytest.fixture(scope="module")
def stamped(tmp_path_factory):
    """300 frames (12 s at 25 fps), 320x256, each carrying its own index as a stamp."""
    base = astronaut()[:256, 96:416]
    path = tmp_path_factory.mktemp("stamped") / "stamped.mp4"
    return write_video(path, (stamp(base, k) for k in range(300)), fps=25, gop=25)


_VideoCapture = cv2.VideoCapture


class CountingCapture:
    """Wraps cv2.VideoCapture and counts the frames pulled out of the decoder."""

    opened: list["CountingCapture"] = []

    def __init__(self, *args):
        self._cap = _VideoCapture(*args)
        self.pulled = 0
        CountingCapture.opened.append(self)

    def grab(self):
        self.pulled += 1
        return self._cap.grab()

    def read(self, *a):
        self.pulled += 1
        return self._cap.read(*a)

    def __getattr__(self, name):
        return getattr(self._cap, name)


def test_probe_reports_resolution_fps_duration(stamped, photo):
    info = media.probe(stamped)
    assert (info.kind, info.width, info.height, info.frame_count) == ("video", 320, 256, 300)
    assert info.fps == pytest.approx(25.0)
    assert info.duration_s == pytest.approx(12.0)
    assert info.rotation == 0
    img = media.probe(photo)
    assert (img.kind, img.width, img.height, img.frame_count) == ("image", 512, 512, 1)


def test_sample_indices_are_even_and_centred():
    assert media.sample_indices(100, 4) == [12, 37, 62, 87]
    assert media.sample_indices(3, 32) == [0, 1, 2]
    assert media.sample_indices(0, 8) == [] and media.sample_indices(10, 0) == []
    idx = media.sample_indices(90_000, 32)  # one hour at 25 fps
    gaps = np.diff(idx)
    assert len(idx) == 32 and gaps.min() >= 2812 and gaps.max() <= 2813


def test_sampled_frames_are_the_frames_asked_for(stamped):
    frames = list(media.sample_frames(stamped, 8))
    assert [f.index for f in frames] == media.sample_indices(300, 8)
    assert [read_stamp(f.rgb) for f in frames] == [f.index for f in frames]  # seeking lands exactly
    for f in frames:
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (256, 320, 3)
        assert f.time_s == pytest.approx(f.index / 25, abs=1e-3)
    # RGB, not BGR: the astronaut's orange suit is red-dominant
    suit = frames[0].rgb[200:250, 0:60].reshape(-1, 3).mean(0)
    assert suit[0] > suit[2] + 40


def test_sampling_never_reads_the_whole_video(stamped, monkeypatch):
    CountingCapture.opened.clear()
    monkeypatch.setattr(media.cv2, "VideoCapture", CountingCapture)
    info = media.probe(stamped)
    gen = media.sample_frames(stamped, 4, info)
    first = next(gen)  # lazy: one frame decoded, not all of them
    assert read_stamp(first.rgb) == first.index == 37
    sampler = CountingCapture.opened[-1]
    assert sampler.pulled <= 1 + media.SEEK_GAP
    rest = list(gen)
    assert [read_stamp(f.rgb) for f in rest] == [112, 187, 262]
    assert sampler.pulled <= 4  # far-apart frames are reached by seeking, not by decoding through
    assert sum(c.pulled for c in CountingCapture.opened) <= 6


def test_sample_frames_of_an_image_is_one_frame(photo):
    frames = list(media.sample_frames(photo, 32))
    assert len(frames) == 1 and frames[0].index == 0 and frames[0].rgb.shape == (512, 512, 3)
    assert np.array_equal(frames[0].rgb, astronaut())


def test_sampled_frames_can_carry_the_very_next_frame(stamped):
    """next_every (the lip-sync check's mouth motion): a sampled frame with the frame right
    after it, its own time stamp kept; neighbours both sampled are each read, the last has none;
    with next_every=2 only the 0th, 2nd, ... sampled frames carry it (the others cost no decoding)."""
    frames = list(media.sample_frames(stamped, 8, next_every=1))
    assert [read_stamp(f.rgb) for f in frames] == media.sample_indices(300, 8)
    assert [read_stamp(f.next_rgb) for f in frames] == [f.index + 1 for f in frames]
    assert all(f.time_s == pytest.approx(f.index / 25, abs=1e-3) for f in frames)
    every = list(media.sample_frames(stamped, 300, next_every=1))
    assert [read_stamp(f.rgb) for f in every] == list(range(300))
    assert read_stamp(every[-2].next_rgb) == 299 and every[-1].next_rgb is None
    assert all(f.next_rgb is None for f in media.sample_frames(stamped, 4))  # not asked for: not read
    half = list(media.sample_frames(stamped, 8, next_every=2))
    assert [read_stamp(f.rgb) for f in half] == media.sample_indices(300, 8)  # the same frames
    assert [None if f.next_rgb is None else read_stamp(f.next_rgb) for f in half] == \
        [f.index + 1 if k % 2 == 0 else None for k, f in enumerate(half)]
    neighbours = list(media.sample_frames(stamped, 300, next_every=2))  # the next frame is also the next sampled one
    assert [read_stamp(f.rgb) for f in neighbours] == list(range(300))
    assert all(read_stamp(f.next_rgb) == f.index + 1 for f in neighbours[:-1:2]) and neighbours[1].next_rgb is None


def test_read_consecutive(stamped):
    frames = media.read_consecutive(stamped, 100, 5)
    assert [read_stamp(f.rgb) for f in frames] == [100, 101, 102, 103, 104]
    assert len(media.read_consecutive(stamped, 297, 10)) == 3  # stops at the end


@pytest.mark.parametrize("display_rotation", [-90, 90, 180])
def test_rotated_phone_clip_is_read_upright(tmp_path, display_rotation, analyzer):
    """A phone stores sensor-oriented frames and a display rotation; the face must come out
    upright where it is in the upright picture."""
    upright = np.ascontiguousarray(astronaut()[:, 96:416])  # portrait 320x512, face at x 79..179
    face = (ASTRONAUT_FACE[0] - 96, ASTRONAUT_FACE[1], ASTRONAUT_FACE[2] - 96, ASTRONAUT_FACE[3])
    # the sensor stores the upright frame turned against the display rotation (FFmpeg:
    # counter-clockwise degrees, so -90 = "turn 90° clockwise to view")
    stored = np.ascontiguousarray(np.rot90(upright, k=-display_rotation // 90))
    path = write_video(tmp_path / "phone.mp4", [stored] * 10, rotation=display_rotation)
    info = media.probe(path)
    assert (info.width, info.height) == (320, 512)
    assert info.rotation % 360 == (-display_rotation) % 360
    frame = next(iter(media.sample_frames(path, 1, info))).rgb
    assert frame.shape == upright.shape
    assert np.abs(frame.astype(int) - upright).mean() < 6  # the picture itself, upright
    dets = analyzer.faces.detect(frame)
    assert dets and iou(dets[0].box, face) >= 0.5
    eyes_y, mouth_y = dets[0].keypoints[:2, 1].mean(), dets[0].keypoints[3, 1]
    assert eyes_y < mouth_y  # upright, not upside down


def test_variable_frame_rate_time_stamps_are_the_frames_own(tmp_path):
    base = astronaut()[:256, 96:416]
    gaps = np.random.RandomState(0).choice([20, 40, 100], size=60)
    pts = np.cumsum(gaps).tolist()
    path = write_video(tmp_path / "vfr.mp4", [stamp(base, k) for k in range(60)], pts_ms=pts)
    frames = list(media.sample_frames(path, 8))
    assert len(frames) == 8
    times = [f.time_s for f in frames]
    assert np.all(np.diff(times) > 0)
    for f in frames:  # whichever frame was decoded, its time is its own time stamp
        k = read_stamp(f.rgb)
        assert f.time_s == pytest.approx((pts[k] - pts[0]) / 1000, abs=0.002)


def test_image_with_alpha_grey_and_16_bit(tmp_path):
    img = astronaut()
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(tmp_path / "alpha.png"), np.dstack([bgr, np.full(img.shape[:2], 100, np.uint8)]))
    cv2.imwrite(str(tmp_path / "grey.png"), cv2.cvtColor(img, cv2.COLOR_RGB2GRAY))
    cv2.imwrite(str(tmp_path / "deep.png"), bgr.astype(np.uint16) * 257)
    for name in ("alpha.png", "grey.png", "deep.png"):
        out = media.load_image(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (512, 512, 3), name
    assert np.abs(media.load_image(tmp_path / "alpha.png").astype(int) - img).max() <= 1
    assert np.abs(media.load_image(tmp_path / "deep.png").astype(int) - img).max() <= 1
    grey = media.load_image(tmp_path / "grey.png")
    assert np.array_equal(grey[..., 0], grey[..., 2])


def test_jpeg_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with EXIF Orientation=6 (rotate 90° clockwise to view)."""
    upright = astronaut()
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # turned counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "phone.jpg", quality=95, exif=exif)
    out = media.load_image(tmp_path / "phone.jpg")
    assert np.abs(out.astype(int) - upright).mean() < 6


def test_large_jpeg_is_downscaled_to_max_side(tmp_path):
    img = cv2.resize(astronaut(), (5000, 5000), interpolation=cv2.INTER_LINEAR)
    cv2.imwrite(str(tmp_path / "big.jpg"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    out = media.load_image(tmp_path / "big.jpg")
    assert max(out.shape[:2]) <= media.MAX_SIDE and out.shape[0] == out.shape[1]


@pytest.mark.parametrize("name, content, message", [
    ("clip.txt", b"x", "not a video or a photo that can be read (found text)"),  # the bytes decide, not the name
    ("noext", b"\x00\x01junk" * 30, "not a video or a photo that can be read (found unknown data (first bytes 00 01 6a"),
    ("photo.png", b"", "the file is empty"),
    ("photo.jpg", b"this is text, not a JPEG\n" * 10, "not a video or a photo that can be read (found text)"),
    ("clip.webm", b"\x1aE\xdf\xa3 garbage" * 50, "not a readable video"),
])
def test_bad_files_raise_media_error_naming_the_file(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(MediaError) as e:
        list(media.sample_frames(p, 4))
    assert str(p) in str(e.value) and message in str(e.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(MediaError, match="file not found"):
        media.probe(tmp_path / "nope.mp4")
    (tmp_path / "dir.mp4").mkdir()
    with pytest.raises(MediaError, match="not a file"):
        media.probe(tmp_path / "dir.mp4")
