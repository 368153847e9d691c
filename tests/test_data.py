from pathlib import Path

import cv2
import numpy as np
import pytest

from roadseg.data.camvid import CAMVID32_TO_11, CamVid, camvid32_lut
from roadseg.data.transforms import TrainTransform

FASTAI_CODES = ("Animal Archway Bicyclist Bridge Building Car CartLuggagePram Child Column_Pole Fence "
                "LaneMkgsDriv LaneMkgsNonDriv Misc_Text MotorcycleScooter OtherMoving ParkingBlock "
                "Pedestrian Road RoadShoulder Sidewalk SignSymbol Sky SUVPickupTruck TrafficCone "
                "TrafficLight Train Tree Truck_Bus Tunnel VegetationMisc Void Wall").split()  # fmt: skip


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), arr if arr.ndim == 2 else cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))


def make_segnet(root: Path, n: int = 3, h: int = 24, w: int = 32) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for i in range(n):
            _png(root / split / f"0001TP_{i:06d}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
            _png(root / f"{split}annot" / f"0001TP_{i:06d}.png", rng.integers(0, 12, (h, w), dtype=np.uint8))
    return root


def make_fastai(root: Path, h: int = 24, w: int = 32) -> Path:
    (root / "codes.txt").parent.mkdir(parents=True, exist_ok=True)
    (root / "codes.txt").write_text("\n".join(FASTAI_CODES))
    names = [f"Seq05VD_f{i:05d}.png" for i in range(4)]
    (root / "valid.txt").write_text("\n".join(names[:1]))
    for i, name in enumerate(names):
        _png(root / "images" / name, np.full((h, w, 3), 10 * i, np.uint8))
        label = np.zeros((h, w), np.uint8)
        label[:, :8] = FASTAI_CODES.index("LaneMkgsDriv")
        label[:, 8:16] = FASTAI_CODES.index("Child")
        label[:, 16:24] = FASTAI_CODES.index("MotorcycleScooter")
        label[:, 24:] = FASTAI_CODES.index("Void")
        _png(root / "labels" / name.replace(".png", "_P.png"), label)
    return root


def test_segnet_layout(tmp_path):
    root = make_segnet(tmp_path / "camvid")
    ds = CamVid(root, "train")
    assert ds.layout == "segnet" and len(ds) == 3
    image, label = ds[0]
    assert image.shape == (24, 32, 3) and image.dtype == np.uint8 and label.shape == (24, 32)
    assert label.max() <= 11
    assert CamVid(root, "val", size=(12, 16))[0][0].shape == (12, 16, 3)
    with pytest.raises(FileNotFoundError):
        CamVid(root, "test")


def test_fastai_layout_maps_32_classes_onto_11(tmp_path):
    root = make_fastai(tmp_path / "camvid32")
    train, val = CamVid(root, "train"), CamVid(root, "val")
    assert train.layout == "fastai" and (len(train), len(val)) == (3, 1)
    assert val.samples[0].image.name == "Seq05VD_f00000.png"
    _, label = train[0]
    assert label[0, 0] == 3 and label[0, 10] == 9 and label[0, 20] == 10 and label[0, 30] == 11


def test_a_fastai_copy_without_valid_txt_says_so_and_its_val_names_may_carry_a_folder(tmp_path):
    """fastai's camvid_tiny has no valid.txt: 'no val images found in X (fastai layout)' said nothing of why."""
    root = make_fastai(tmp_path / "tiny")
    (root / "valid.txt").write_text("images/Seq05VD_f00000.png\n")  # (a path, as some copies write it)
    assert [s.image.name for s in CamVid(root, "val").samples] == ["Seq05VD_f00000.png"]
    (root / "valid.txt").unlink()
    assert len(CamVid(root, "train")) == 4
    with pytest.raises(FileNotFoundError, match=f"no val images in {root}: the fastai layout names them in valid.txt"):
        CamVid(root, "val")


def test_a_copy_without_the_test_split_says_camvids_may_be_held_back(tmp_path):
    """eval --split test on a copy without it said only 'no test images found in DIR (segnet layout)'."""
    root = make_segnet(tmp_path / "segnet", n=2, h=40, w=48)
    with pytest.raises(FileNotFoundError) as err:
        CamVid(root, "test")
    assert str(err.value) == (f"no test images found in {root} (segnet layout): this copy has no test split "
                              "(CamVid's is often held back)")  # one line
    (root / "val").rename(tmp_path / "val")
    with pytest.raises(FileNotFoundError, match=r"no val images found in .*\(segnet layout\)$"):  # (test's only)
        CamVid(root, "val")


def test_a_split_whose_labels_folder_is_missing_names_it(tmp_path):
    """val/ with images but no valannot/ said 'no val images found in DIR (segnet layout)', though val/ held
    images: a student looked for missing images, not for the missing labels' folder."""
    root = make_segnet(tmp_path / "segnet", n=2)
    for f in (root / "valannot").iterdir():
        f.unlink()
    (root / "valannot").rmdir()
    with pytest.raises(FileNotFoundError) as err:
        CamVid(root, "val")
    assert str(err.value) == (f"{root / 'val'} holds 2 images but {root / 'valannot'} (their labels: a same-named "
                              "PNG each) is missing")
    assert len(CamVid(root, "train")) == 2


@pytest.mark.parametrize("bits", [8, 4])
def test_palette_png_labels_give_their_indices(tmp_path, bits):
    """Label PNGs saved as PIL's mode P (a palette, as VOC-style tools write them) were refused: OpenCV
    expands the palette into colours ('has 3 channels'), though read_label's docstring promised the indices."""
    image = pytest.importorskip("PIL.Image")
    root = make_fastai(tmp_path / "fastai") if bits == 8 else make_segnet(tmp_path / "segnet")  # (4 bits: 0-15)
    want = [ds[0][1] for ds in (CamVid(root, "train"), CamVid(root, "val"))]
    for path in [*root.glob("labels/*.png"), *root.glob("*annot/*.png")]:
        pal = image.fromarray(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), "P")
        pal.putpalette([v for i in range(256) for v in ((37 * i) % 256, (91 * i) % 256, (13 * i) % 256)])
        pal.save(path, bits=bits)
    assert image.open(path).mode == "P" and cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 3
    got = [ds[0][1] for ds in (CamVid(root, "train"), CamVid(root, "val"))]
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_mapping_covers_the_standard_groups():
    lut = camvid32_lut(FASTAI_CODES)
    assert lut[FASTAI_CODES.index("Sky")] == 0 and lut[FASTAI_CODES.index("Wall")] == 1
    assert lut[FASTAI_CODES.index("SUVPickupTruck")] == 8 and lut[FASTAI_CODES.index("Void")] == 11
    assert len(CAMVID32_TO_11) == 31  # every code but Void has a class


def test_not_a_camvid_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a CamVid folder"):
        CamVid(tmp_path, "train")


def test_joint_transform_moves_image_and_mask_together():
    image = np.zeros((60, 80, 3), np.uint8)
    label = np.zeros((60, 80), np.uint8)
    image[:, 40:] = 255  # right half bright <-> class 5
    label[:, 40:] = 5
    aug = TrainTransform(crop=(32, 32), scale=(0.5, 1.5), jitter=0.0)
    for seed in range(20):
        img, lab = aug(image, label, np.random.default_rng(seed))
        assert img.shape == (32, 32, 3) and lab.shape == (32, 32)
        inside = lab != 11  # padding is void
        bright = img[..., 0] > 127
        assert np.mean(bright[inside] == (lab[inside] == 5)) > 0.95


def test_copy_paste_lays_another_frames_objects_over_a_frame_and_only_when_asked():
    from roadseg.train.data import AugmentedSet

    road = (np.full((40, 60, 3), 50, np.uint8), np.full((40, 60), 3, np.uint8))  # all road, grey
    car = (road[0].copy(), road[1].copy())
    car[0][10:30, 20:40], car[1][10:30, 20:40] = 200, 8  # a bright car in the middle
    images, labels = [road[0], car[0]], [road[1], car[1]]
    kw = dict(crop=(40, 60), scale=(1, 1), flip=0.0, jitter=0.0)
    for paste, want in ((1.0, True), (0.0, False)):
        ds = AugmentedSet(images, labels, [TrainTransform(**kw, paste=paste)], seed=0)
        img, lab = (t.numpy() for t in ds[0, 0, 0])  # frame 0 (epoch 0, phase 0) can only take frame 1's car
        assert bool((lab == 8).sum() == 20 * 20) is want and ((img[..., 0] == 200) == (lab == 8)).all()
        img, lab = (t.numpy() for t in ds[1, 0, 0])  # frame 1's donor is frame 0: no objects to paste
        assert (lab == 8).sum() == 20 * 20 and ((img[..., 0] == 200) == (lab == 8)).all()
    ds, again = (AugmentedSet(images, labels, [TrainTransform(**kw, paste=1.0)], seed=0) for _ in range(2))
    assert all((a.numpy() == b.numpy()).all() for a, b in zip(ds[0, 3, 0], again[0, 3, 0]))  # resumable: same stream


def test_small_images_are_padded_with_void():
    img, lab = TrainTransform(crop=(64, 64), scale=(1, 1))(np.zeros((20, 30, 3), np.uint8),
                                                           np.zeros((20, 30), np.uint8), np.random.default_rng(0))  # fmt: skip
    assert img.shape == (64, 64, 3) and (lab == 11).sum() == 64 * 64 - 20 * 30


def test_pack_writes_jpeg_images_that_load_with_exact_labels(tmp_path):
    from roadseg.data.pack import pack

    root = make_segnet(tmp_path / "camvid")
    smooth = np.dstack([*np.meshgrid(np.linspace(0, 255, 32), np.linspace(0, 255, 24)), np.full((24, 32), 90.0)])
    _png(root / "train" / "0001TP_000001.png", smooth.astype(np.uint8))  # camera-like, not noise
    assert pack(root, tmp_path / "packed", quality=95) == 6
    packed, orig = CamVid(tmp_path / "packed", "train"), CamVid(root, "train")
    assert packed.samples[0].image.suffix == ".jpg" and len(packed) == 3
    (pi, pl), (oi, ol) = packed[1], orig[1]
    assert np.array_equal(pl, ol) and np.abs(pi.astype(int) - oi).mean() < 3


def test_labels_of_another_class_list_or_depth_are_refused_and_255_is_void(tmp_path):
    root = make_segnet(tmp_path / "cv", n=3)
    label = cv2.imread(str(root / "trainannot/0001TP_000000.png"), cv2.IMREAD_UNCHANGED)
    ds = CamVid(root, "train")
    cv2.imwrite(str(root / "trainannot/0001TP_000000.png"), np.where(label == 11, 255, label).astype(np.uint8))
    assert np.array_equal(ds[0][1], label)  # void written as 255, read as 11
    cv2.imwrite(str(root / "trainannot/0001TP_000001.png"), np.full((24, 32), 200, np.uint8))
    with pytest.raises(ValueError, match="holds class 200; CamVid's 11-class labels are 0-10 and 11"):
        ds[1]  # (was: every pixel void, scored as if fine)
    cv2.imwrite(str(root / "trainannot/0001TP_000002.png"), np.full((24, 32), 259, np.uint16))
    with pytest.raises(ValueError, match="holds 16-bit values"):
        ds[2]  # (was: 259 read as 3, Road)
    (root / "trainannot/0001TP_000002.png").unlink()
    with pytest.raises(FileNotFoundError, match="no such label"):
        ds[2]


def test_pack_leaves_nothing_where_a_frame_cannot_be_read_and_a_frame_is_read_once(tmp_path):
    from roadseg.data.pack import pack

    root = make_segnet(tmp_path / "cv", n=3)
    (root / "val/0001TP_000002.png").write_bytes(b"not a picture")
    with pytest.raises(ValueError, match="cannot decode image: .*0001TP_000002.png \\(nothing was packed\\)"):
        pack(root, tmp_path / "pk")
    assert not (tmp_path / "pk").exists() and not list(tmp_path.glob(".pk*"))  # (was: half a copy)
    (root / "val/0001TP_000002.png").unlink()
    cv2.imwrite(str(root / "val/0001TP_000002.jpg"), np.zeros((24, 32, 3), np.uint8))
    assert pack(root, tmp_path / "pk") == 6
    cv2.imwrite(str(root / "val/0001TP_000001.jpg"), np.zeros((24, 32, 3), np.uint8))  # beside its PNG
    assert [s.image.name for s in CamVid(root, "val").samples] == [
        "0001TP_000000.png", "0001TP_000001.png", "0001TP_000002.jpg"]  # fmt: skip


def test_pack_maps_a_fastai_copys_32_classes_onto_the_11(tmp_path):
    from roadseg.data.pack import pack

    root = make_fastai(tmp_path / "fastai")
    assert pack(root, tmp_path / "pk") == 4
    for split in ("train", "val"):
        packed, orig = CamVid(tmp_path / "pk", split), CamVid(root, split)
        assert len(packed) == len(orig) and all(np.array_equal(packed[i][1], orig[i][1]) for i in range(len(orig)))
    # (was: the 32-class labels copied as they are, read as wrong classes or refused)
