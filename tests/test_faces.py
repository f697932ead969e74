"""Faces stage: BlazeFace finds the astronaut where she is (photo, moving clip, small face in
1080p, a face filling the frame), tracks keep their ids, and the shared square crop is exact."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import ASTRONAUT_FACE, astronaut, moving_face_frames, write_clip
from mediakit import face_grid, paste, scale_box

from dfdemo import media
from dfdemo.faces import Detection, FaceDetector, drop_weak_tracks, iou, link_tracks, square_crop


@pytest.fixture(scope="module")
def fd():
    with FaceDetector(max_faces=10) as d:
        yield d


def best_iou(dets, box) -> float:
    return max((iou(d.box, box) for d in dets), default=0.0)


def test_astronaut_face_found_where_it_is(fd):
    dets = fd.detect(astronaut())
    assert len(dets) == 1
    d = dets[0]
    assert iou(d.box, ASTRONAUT_FACE) >= 0.5 and d.score >= 0.5
    assert d.keypoints.shape == (6, 2)
    x0, y0, x1, y1 = d.box
    assert np.all((d.keypoints[:4] >= [x0, y0]) & (d.keypoints[:4] <= [x1, y1]))  # eyes, nose, mouth inside
    reye, leye, nose, mouth = d.keypoints[:4]
    assert reye[0] < leye[0]  # the subject's right eye is on the image's left
    assert max(reye[1], leye[1]) < nose[1] < mouth[1]  # upright: eyes, then nose, then mouth


def test_face_followed_in_moving_clip(fd, media_dir):
    frames, offsets = moving_face_frames(n=40, step=3)
    path = write_clip(media_dir / "moving_for_faces.mp4", frames)
    per_frame, sampled = [], []
    for f in media.sample_frames(path, 8):
        dets = fd.detect(f.rgb)
        x, y = offsets[f.index]
        expected = scale_box(ASTRONAUT_FACE, 1.0, (x, y))
        assert best_iou(dets, expected) >= 0.5, (f.index, [d.box for d in dets], expected)
        per_frame.append(dets)
        sampled.append(f.index)
    tracks = link_tracks(per_frame)
    assert len(tracks) == 1 and tracks[0].frame_slots == list(range(8))
    xs = [d.box[0] for d in tracks[0].detections]
    assert xs[-1] - xs[0] == pytest.approx(3 * (sampled[-1] - sampled[0]), abs=12)  # the box moves with the face


def test_small_face_in_1080p_needs_the_full_range_model(fd):
    s, at = 1.5, (1000, 100)
    big = cv2.resize(astronaut(), None, fx=s, fy=s, interpolation=cv2.INTER_LINEAR)
    frame = paste((1080, 1920), big, at)
    expected = scale_box(ASTRONAUT_FACE, s, at)  # a 150 px face in a 1920 px frame
    small = cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA)
    assert fd._run(0, small) == []  # the short-range model alone misses it: the fallback is tested
    dets = fd.detect(frame)
    assert best_iou(dets, expected) >= 0.5, ([d.box for d in dets], expected)


def test_face_filling_the_frame(fd):
    x0, y0, x1, y1 = ASTRONAUT_FACE
    tight = astronaut()[y0 - 5 : y1 + 5, x0 - 5 : x1 + 5]  # 110 px, the face edge to edge
    frame = cv2.resize(tight, (660, 660), interpolation=cv2.INTER_LINEAR)
    expected = (30, 30, 630, 630)
    dets = fd.detect(frame)
    assert len(dets) == 1 and iou(dets[0].box, expected) >= 0.5, [d.box for d in dets]
    bx0, by0, bx1, by1 = dets[0].box  # mapped back from the padded frame: inside this one
    assert 0 <= bx0 < bx1 <= 660 and 0 <= by0 < by1 <= 660


def test_face_larger_than_the_frame_needs_the_padding_fallback(fd):
    """A selfie taken too close: the frame holds the face from brow to chin, cut at the sides."""
    x0, y0, x1, y1 = ASTRONAUT_FACE
    frame = cv2.resize(astronaut()[y0 + 15 : y1 - 15, x0 + 15 : x1 - 15], (640, 640), interpolation=cv2.INTER_LINEAR)
    assert fd._run(0, frame) == [] and fd._run(1, frame) == []  # neither model finds it unpadded
    dets = fd.detect(frame)
    assert len(dets) == 1
    assert iou(dets[0].box, (0, 0, 640, 640)) >= 0.8  # the true face box, clipped to the frame
    reye, leye, nose, mouth = dets[0].keypoints[:4]  # keypoints mapped back out of the padding
    assert 0 < reye[0] < 320 < leye[0] < 640 and max(reye[1], leye[1]) < nose[1] < mouth[1] < 640


def test_no_face(fd):
    assert fd.detect(np.full((480, 640, 3), 90, np.uint8)) == []
    rng = np.random.default_rng(0)
    assert fd.detect(rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)) == []


def test_two_faces_in_a_photo(fd, two_face_photo):
    dets = fd.detect(media.load_image(two_face_photo))
    assert len(dets) == 2
    left, right = sorted(dets, key=lambda d: d.box[0])
    assert iou(left.box, ASTRONAUT_FACE) >= 0.5
    mirrored = (588 + 512 - ASTRONAUT_FACE[2], ASTRONAUT_FACE[1], 588 + 512 - ASTRONAUT_FACE[0], ASTRONAUT_FACE[3])
    assert iou(right.box, mirrored) >= 0.5


def test_two_faces_keep_their_track_ids_over_a_clip(fd, tmp_path):
    """Two people walking towards each other; ids must not swap or multiply."""
    img = astronaut()
    frames, left_x, right_x = [], [], []
    for i in range(24):
        lx, rx = 10 + 4 * i, 720 - 4 * i
        canvas = np.full((512, 1240, 3), 60, np.uint8)
        canvas[:, lx : lx + 512] = img
        canvas[:, rx : rx + 512] = img[:, ::-1]
        frames.append(canvas)
        left_x.append(lx + ASTRONAUT_FACE[0])
        right_x.append(rx + 512 - ASTRONAUT_FACE[2])
    path = write_clip(tmp_path / "two.mp4", frames)
    per_frame, idx = [], []
    for f in media.sample_frames(path, 8):
        per_frame.append(fd.detect(f.rgb))
        idx.append(f.index)
    tracks = link_tracks(per_frame)
    assert len(tracks) == 2
    t0, t1 = tracks
    assert t0.frame_slots == t1.frame_slots == list(range(8))
    for k, i in enumerate(idx):  # track 0 is the left person in every frame, track 1 the right
        assert abs(t0.detections[k].box[0] - left_x[i]) < 20
        assert abs(t1.detections[k].box[0] - right_x[i]) < 20


def _det(x, y, s=100.0):
    return Detection((x, y, x + s, y + s), 0.9, np.zeros((6, 2), np.float32))


def test_link_tracks_starts_a_new_track_for_a_new_face():
    per_frame = [[_det(0, 0)], [_det(10, 0)], [_det(20, 0), _det(500, 0)], [_det(510, 0), _det(30, 0)], []]
    tracks = link_tracks(per_frame)
    assert [t.track_id for t in tracks] == [0, 1]
    assert tracks[0].frame_slots == [0, 1, 2, 3] and [d.box[0] for d in tracks[0].detections] == [0, 10, 20, 30]
    assert tracks[1].frame_slots == [2, 3] and [d.box[0] for d in tracks[1].detections] == [500, 510]
    # a face that jumps across the frame is another face
    assert len(link_tracks([[_det(0, 0)], [_det(400, 0)]])) == 2


def test_detections_capped_at_max_faces():
    frame, cells = face_grid(astronaut()[60:220, 145:305], n=20)
    with FaceDetector(max_faces=30) as many:
        dets = many.detect(frame)
    assert len(dets) >= 18  # nearly every face in the grid is found ...
    assert sum(best_iou(dets, c) > 0.3 for c in cells) >= 18  # ... in its own cell
    with FaceDetector(max_faces=10) as capped:
        top = capped.detect(frame)
    assert len(top) == 10
    assert min(d.score for d in top) >= max(sorted((d.score for d in dets), reverse=True)[10:], default=0)


def test_square_crop_geometry_and_keypoints():
    box = (100.0, 50.0, 180.0, 170.0)  # 80 x 120: the side is the longer one
    kps = np.array([[120, 80], [160, 80], [140, 110], [140, 140], [105, 100], [175, 100]], np.float32)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]
    rgb = np.full((300, 400, 3), 128, np.uint8)
    for (x, y), c in zip(kps.astype(int), colours):  # a coloured dot on each keypoint
        rgb[y - 3 : y + 4, x - 3 : x + 4] = c
    margin, size = 0.25, 150
    crop, mapped = square_crop(rgb, box, margin, size, kps)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    side = 120 * 1.25
    scale = size / side
    ox, oy = 140 - side / 2, 110 - side / 2
    np.testing.assert_allclose(mapped, (kps - [ox, oy]) * scale, atol=1e-4)
    for (cx, cy), c in zip(mapped, colours):  # each mapped keypoint lands on its own dot
        assert np.abs(crop[round(cy), round(cx)].astype(int) - c).max() <= 40
    # outside the frame is black: a box at the corner
    corner, _ = square_crop(rgb, (0, 0, 40, 40), 1.0, 80)
    assert corner[:15, :15].max() == 0 and corner[50:, 50:].max() > 0


def test_square_crop_is_shared_with_training_shape_contract():
    img = astronaut()
    crop, k = square_crop(img, ASTRONAUT_FACE, 0.3, 224, None)
    assert k is None and crop.shape == (224, 224, 3)
    # the face centre is the crop centre
    c2, kp = square_crop(img, ASTRONAUT_FACE, 0.3, 224, np.array([[225.0, 130.0]] * 6))
    np.testing.assert_allclose(kp[0], [112, 112], atol=1e-3)


def test_faint_tracks_beside_a_clear_face_are_dropped():
    def track(scores, x):
        return [Detection((x, 0.0, x + 100.0, 100.0), s, np.zeros((6, 2), np.float32)) for s in scores]

    clear, faint, fainter = track([0.95, 0.9, 0.92], 0), track([0.6, 0.66], 400), track([0.52], 800)
    per_frame = [[clear[0], faint[0]], [clear[1], faint[1], fainter[0]], [clear[2]]]
    tracks = link_tracks(per_frame)
    assert len(tracks) == 3
    kept, dropped = drop_weak_tracks(tracks)
    assert dropped == 2 and [t.track_id for t in kept] == [0] and kept[0].detections == clear
    # the same faint track alone is kept: it may be the only face there is
    alone, n = drop_weak_tracks(link_tracks([[faint[0]], [faint[1]]]))
    assert n == 0 and len(alone) == 1
    # a second clear face stays, renumbered after the drop
    second = track([0.75, 0.8], 800)
    kept, dropped = drop_weak_tracks(link_tracks([[faint[0], second[0]], [clear[0], faint[1], second[1]]]))
    assert dropped == 1 and [t.track_id for t in kept] == [0, 1]
    assert [t.detections[0].box[0] for t in kept] == [800, 0]


def _interview_with_cuts() -> tuple[list[np.ndarray], list[str]]:
    """Two people, A (the astronaut) and B (another face: her mirror image, darker), filmed as an interview is cut: a two-shot, a close-up of B, a close-up of A,
    the two-shot again (20 frames each). Returns the frames and who is where in each frame
    ("AB" = A left, B right; "B" / "A" = that person alone)."""
    a = astronaut()
    b = np.ascontiguousarray((a[:, ::-1] * 0.55).astype(np.uint8))  # mirrored and darker: other colours, other "person"
    two = np.full((400, 800, 3), 60, np.uint8)
    two[20:380, 20:380] = cv2.resize(a, (360, 360), interpolation=cv2.INTER_AREA)
    two[20:380, 420:780] = cv2.resize(b, (360, 360), interpolation=cv2.INTER_AREA)

    def close_up(img):
        frame = np.full((400, 800, 3), 60, np.uint8)
        frame[:, 200:600] = cv2.resize(img, (400, 400), interpolation=cv2.INTER_AREA)
        return frame

    shots = [(two, "AB"), (close_up(b), "B"), (close_up(a), "A"), (two, "AB")]
    frames = [f for f, _ in shots for _ in range(20)]
    who = [w for _, w in shots for _ in range(20)]
    return frames, who


def test_two_people_across_cuts_are_two_tracks(fd, tmp_path):
    """An interview cut between a two-shot and close-ups: position alone makes a new track at
    every cut (or joins B's close-up to A); with the colour signatures, two tracks, one person each."""
    from dfdemo.faces import appearance

    frames, who = _interview_with_cuts()
    path = write_clip(tmp_path / "interview.mp4", frames)
    per_frame, labels, looks = [], [], []
    for f in media.sample_frames(path, 16):
        dets = sorted(fd.detect(f.rgb), key=lambda d: d.box[0])
        assert len(dets) == len(who[f.index]), (f.index, who[f.index])
        per_frame.append(dets)
        labels.append(list(who[f.index]))  # left to right
        looks.append([appearance(square_crop(f.rgb, d.box, 0.3, 224)[0]) for d in dets])

    def people(tracks):
        return [{labels[s][per_frame[s].index(d)] for s, d in zip(t.frame_slots, t.detections)} for t in tracks]

    tracks = link_tracks(per_frame, looks)
    assert people(tracks) == [{"A"}, {"B"}]  # two tracks, each one person, A first (left in the first frame)
    assert [len(t.detections) for t in tracks] == [12, 12]  # 4 samples of each shot, A in 3 shots, B in 3
    by_position = link_tracks(per_frame)  # what linking by position alone gives on the same detections
    assert len(by_position) > 2 or any(len(p) > 1 for p in people(by_position))


def test_a_cut_to_another_person_in_the_same_place_starts_a_new_track():
    from dfdemo.faces import appearance

    a = np.zeros((224, 224, 3), np.uint8)
    a[..., 0] = 200  # red
    b = np.zeros((224, 224, 3), np.uint8)
    b[..., 2] = 200  # blue
    per_frame = [[_det(100, 100)], [_det(102, 100)], [_det(104, 100)]]
    assert len(link_tracks(per_frame)) == 1
    tracks = link_tracks(per_frame, [[appearance(a)], [appearance(a)], [appearance(b)]])
    assert [t.frame_slots for t in tracks] == [[0, 1], [2]]
    # and the same colours after a gap, elsewhere in the frame, join the first track again
    far = per_frame + [[_det(900, 400)]]
    tracks = link_tracks(far, [[appearance(a)], [appearance(a)], [appearance(b)], [appearance(a)]])
    assert [t.frame_slots for t in tracks] == [[0, 1, 3], [2]]


def test_the_analyzer_reports_two_faces_for_the_interview(analyzer, tmp_path):
    from dfdemo import Settings

    frames, _ = _interview_with_cuts()
    r = analyzer.analyze(write_clip(tmp_path / "interview.mp4", frames), Settings(frames=16, heatmaps=0)).report
    assert [(f.track_id, len(f.frames)) for f in r.faces] == [(0, 12), (1, 12)]
    assert r.faces[0].frames[0].box[0] < r.faces[1].frames[0].box[0]  # face 1 = the left person of the two-shot


def test_mouth_motion_tells_a_redrawn_mouth_from_a_filmed_face():
    """faces.mouth_motion, the lip-sync check's frame-to-frame evidence: nothing changes → the
    floor; the mouth redrawn from a low-resolution copy (as lip-sync tools paste theirs) → the
    mouth's change far above the eyes'; the whole frame moved a pixel (the camera) → both alike."""
    from dfdemo.faces import MOTION_DIMS, mouth_motion

    img = astronaut()
    with FaceDetector() as fd:
        d = fd.detect(img)[0]
    still = mouth_motion(img, img.copy(), d.box, d.keypoints)
    assert still.shape == (MOTION_DIMS,)
    assert still[16] == pytest.approx(np.log(1e-3)) and still[17] == pytest.approx(np.log(1e-3))
    assert still[19] == pytest.approx(1.0)
    assert np.isnan(mouth_motion(img, None, d.box, d.keypoints)).all()  # no next frame: not measured
    redrawn = img.copy()
    (mx, my), r = d.keypoints[3].astype(int), int(0.12 * d.size)  # the lips and around them
    patch = redrawn[my - r:my + r, mx - r:mx + r]
    redrawn[my - r:my + r, mx - r:mx + r] = cv2.resize(cv2.resize(patch, (24, 24), interpolation=cv2.INTER_AREA),
                                                       patch.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    lipsync = mouth_motion(img, redrawn, d.box, d.keypoints)
    assert lipsync[17] == pytest.approx(np.log(1e-3))  # the eyes did not change
    assert lipsync[18] > 3 and lipsync[0] > still[0] + 3  # the mouth did, in its finest band too
    camera = mouth_motion(img, np.roll(img, 1, axis=1), d.box, d.keypoints)
    assert abs(camera[18]) < 1.5 < lipsync[18]
