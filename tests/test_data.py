"""The loaders of helpers.data on small folders written by the tests."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from helpers.data import load_dataset
from helpers.dataset import DatasetError, DatasetNotFoundError
from helpers.layouts import detect_layout, normalize_image_name
from helpers.settings import get_settings
from tests.fixtures import (
    FLICKR8K_MISSING_IMAGE,
    TRIMMED_FLICKR8K,
    sample_captions,
    trimmed_flickr8k,
    write_jpeg,
    write_kaggle,
    write_karpathy,
    write_official,
)


def splits_of(names: list[str]) -> dict[str, list[str]]:
    return {"train": names[:-2], "val": names[-2:-1], "test": names[-1:]}


@pytest.fixture
def captions() -> dict[str, list[str]]:
    return sample_captions(8)


def quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_dataset(*args, **kwargs)


def test_normalize_image_name_fixes_known_typo():
    assert normalize_image_name("2258277193_586949ec62.jpg.1") == "2258277193_586949ec62.jpg"
    assert normalize_image_name(" 1000_a.jpg ") == "1000_a.jpg"
    assert normalize_image_name("readme") is None


@pytest.mark.parametrize("subfolder", [False, True])
def test_official_layout_reads_captions_and_splits(tmp_path, captions, subfolder):
    names = list(captions)
    write_official(tmp_path, captions, splits_of(names), text_subfolder=subfolder)
    ds = load_dataset("flickr8k", root=tmp_path)
    assert ds.layout == "official"
    assert ds.captions == captions
    assert ds.splits == splits_of(names)
    assert ds.image_path(names[0]) == tmp_path / "Flicker8k_Dataset" / names[0]
    assert ds.image_path(names[0]).is_file()
    assert ds.report.is_clean


def test_official_layout_reports_what_it_dropped(tmp_path, captions):
    names = list(captions)
    quirks = [
        "9999_missing.jpg.1#0\tA caption of an image that is not in the folder",
        "9999_missing.jpg#1\tAnother one",
        f"{names[0]}#0\tThe same caption id again",  # duplicate id
        "a line without a tab",
        f"{names[1]}\tno caption number",
        "",
    ]
    write_official(tmp_path, captions, splits_of([*names, "9999_missing.jpg"]), extra_lines=quirks)
    write_jpeg(tmp_path / "Flicker8k_Dataset" / "7777_uncaptioned.jpg")
    with pytest.warns(UserWarning, match="dropped 2 captions of 1 images"):
        ds = load_dataset("flickr8k", root=tmp_path)
    report = ds.report
    assert report.missing_images == {"9999_missing.jpg": 2}
    assert report.uncaptioned_images == ["7777_uncaptioned.jpg"]
    token_lines = 8 * 5
    assert report.duplicate_lines == [f"Flickr8k.token.txt:{token_lines + 3}"]
    assert [m.split(":")[:2] for m in report.malformed_lines] == [
        ["Flickr8k.token.txt", str(token_lines + 4)],
        ["Flickr8k.token.txt", str(token_lines + 5)],
    ]
    assert report.dropped_captions == 5
    assert ds.captions == captions  # the duplicate did not replace the original
    assert "9999_missing.jpg" not in ds.splits["test"]
    assert any("9999_missing.jpg" in p for p in report.split_problems)


def test_kaggle_layout_matches_official(tmp_path, captions):
    names = list(captions)
    official = quiet_load(
        "flickr8k", root=write_official(tmp_path / "o", captions, splits_of(names))
    )
    for quote in (False, True):
        kaggle = quiet_load("flickr8k", root=write_kaggle(tmp_path / f"k{quote}", captions, quote))
        assert kaggle.layout == "kaggle"
        assert kaggle.captions == official.captions
        assert sorted(sum(kaggle.splits.values(), [])) == sorted(names)
        assert "no official split files" in str(kaggle.report)


def test_kaggle_layout_uses_official_split_files_when_present(tmp_path, captions):
    names = list(captions)
    root = write_kaggle(tmp_path, captions)
    write_official(tmp_path / "text_only", {}, splits_of(names))
    for split_file in (tmp_path / "text_only").glob("Flickr_8k.*.txt"):
        split_file.rename(tmp_path / split_file.name)
    ds = load_dataset("flickr8k", root=root)
    assert ds.splits == splits_of(names)


def test_kaggle_header_is_checked(tmp_path, captions):
    root = write_kaggle(tmp_path, captions)
    (root / "captions.txt").write_text("file,text\nx.jpg,a dog\n")
    with pytest.raises(DatasetError, match=r"captions.txt:1: expected the header 'image,caption'"):
        load_dataset("flickr8k", root=root)


def test_original_split_is_ninety_ten(tmp_path):
    captions = sample_captions(20)
    ds = load_dataset("flickr8k", root=write_official(tmp_path, captions), split="90/10")
    assert ds.splits["train"] == list(captions)[:18]
    assert ds.splits["test"] == list(captions)[18:] == ds.splits["val"]
    assert "the original tutorial's split" in str(ds.report)


def test_the_old_split_name_seed_still_works_with_a_warning(tmp_path):
    root = write_official(tmp_path, sample_captions(20))
    with pytest.warns(FutureWarning, match='split="seed" is now split="90/10"'):
        ds = load_dataset("flickr8k", root=root, split="seed")
    assert ds.splits == quiet_load("flickr8k", root=root, split="90/10").splits


def test_a_split_the_dataset_lacks_is_refused_before_anything_is_read(tmp_path):
    """Bug 6: the shapes world has no Karpathy JSON; the message lists what it does offer,
    and nothing is generated or read first."""
    root = tmp_path / "shapes"
    with pytest.raises(ValueError, match="Unknown split 'karpathy' for the shapes dataset") as err:
        load_dataset("shapes", root=root, split="karpathy", n_images=12)
    offered = str(err.value).split("It offers:")[1]
    assert "'official'" in offered and "'90/10'" in offered and "karpathy" not in offered
    assert not root.exists()
    with pytest.raises(ValueError, match="for the flickr8k dataset.*'karpathy'"):
        load_dataset("flickr8k", root=tmp_path / "nothing", split="test")
    with pytest.raises(ValueError, match="for the coco dataset. It offers: 'karpathy'"):
        load_dataset("coco", root=tmp_path / "nothing", split="official")


def test_shapes_world_offers_the_original_split(tmp_path):
    ds = load_dataset("shapes", root=tmp_path / "shapes", split="90/10", n_images=20)
    assert len(ds.splits["train"]) == 18 and ds.splits["val"] == ds.splits["test"]


def test_karpathy_json(tmp_path, captions):
    names = list(captions)
    write_official(tmp_path, captions)
    entries = [
        {
            "filename": n,
            "split": s,
            "sentences": [{"raw": c, "tokens": c.split()} for c in captions[n]],
        }
        for n, s in zip(names, ["train", "restval", "val", "test", "train", "train", "val", "test"])
    ]
    entries.append({"filename": "0_gone.jpg", "split": "test", "sentences": [{"raw": "x"}]})
    entries.append({"split": "train"})  # no file name
    write_karpathy(tmp_path / "dataset_flickr8k.json", entries)
    ds = quiet_load("flickr8k", root=tmp_path, split="karpathy")
    assert ds.layout == "karpathy"
    assert ds.captions == captions
    assert ds.splits["train"] == [names[0], names[1], names[4], names[5]]
    assert ds.splits["test"] == [names[3], names[7]]
    assert ds.report.missing_images == {"0_gone.jpg": 1}
    assert ds.report.malformed_lines == ["dataset_flickr8k.json: images[9]"]


def test_karpathy_json_with_subfolders(tmp_path):
    for folder in ("val2014", "train2014"):
        write_jpeg(tmp_path / folder / f"COCO_{folder}_1.jpg")
    entries = [
        {
            "filepath": f,
            "filename": f"COCO_{f}_1.jpg",
            "split": s,
            "sentences": [{"raw": "A cat ."}],
        }
        for f, s in (("val2014", "test"), ("train2014", "train"))
    ]
    write_karpathy(tmp_path / "dataset_coco.json", entries)
    ds = load_dataset("coco", root=tmp_path)
    assert ds.image_path("COCO_val2014_1.jpg") == tmp_path / "val2014" / "COCO_val2014_1.jpg"
    assert ds.image_path("COCO_val2014_1.jpg").is_file()


def test_bad_karpathy_file_names_itself(tmp_path):
    (tmp_path / "dataset_flickr30k.json").write_text("{not json")
    with pytest.raises(DatasetError, match="dataset_flickr30k.json is not a Karpathy split file"):
        load_dataset("flickr30k", root=tmp_path)


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("flickr8k", root=tmp_path / "nothing")
    message = str(err.value)
    assert (
        "download=True" in message and "Kaggle" in message and "CAPTION_DATASET=shapes" in message
    )
    assert str(tmp_path / "nothing") in message


def test_empty_token_file_names_the_file(tmp_path, captions):
    write_official(tmp_path, captions)
    (tmp_path / "Flickr8k.token.txt").write_text("\n")
    with pytest.raises(DatasetError, match=r"Flickr8k.token.txt is empty"):
        load_dataset("flickr8k", root=tmp_path)


def test_binary_token_file_names_the_file(tmp_path, captions):
    write_official(tmp_path, captions)
    (tmp_path / "Flickr8k.token.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DatasetError, match=r"Flickr8k.token.txt is not a UTF-8 text file"):
        load_dataset("flickr8k", root=tmp_path)


def test_images_and_captions_that_do_not_match(tmp_path, captions):
    write_official(tmp_path, captions)
    for image in (tmp_path / "Flicker8k_Dataset").iterdir():
        image.rename(image.with_name("other_" + image.name))
    with pytest.raises(DatasetError, match="No caption .* matches an image"):
        quiet_load("flickr8k", root=tmp_path)


def test_macos_resource_files_are_not_images(tmp_path, captions):
    write_official(tmp_path, captions, splits_of(list(captions)))
    (tmp_path / "Flicker8k_Dataset" / f"._{next(iter(captions))}").write_bytes(b"\x00\x05")
    assert load_dataset("flickr8k", root=tmp_path).report.is_clean


def test_detect_layout(tmp_path, captions):
    assert detect_layout(tmp_path) is None
    assert detect_layout(write_kaggle(tmp_path / "k", captions)) == "kaggle"
    assert (
        detect_layout(write_official(tmp_path / "o", captions, text_subfolder=True)) == "official"
    )


# --- real Flickr8k lines: the trimmed copy in tests/, in every clone ----------------------

MISSING_IMAGE = FLICKR8K_MISSING_IMAGE
TRIMMED_IMAGES = 9  # with the missing one


def test_trimmed_flickr8k_drops_and_counts_the_missing_images_captions(tmp_path):
    root = trimmed_flickr8k(tmp_path)
    with pytest.warns(UserWarning, match=f"dropped 5 captions of 1 images .*{MISSING_IMAGE}"):
        ds = load_dataset("flickr8k", root=root)
    assert ds.report.missing_images == {MISSING_IMAGE: 5}  # the .jpg.1 line counted with it
    assert ds.report.dropped_captions == 5
    assert not ds.report.malformed_lines and not ds.report.duplicate_lines
    assert len(ds.captions) == TRIMMED_IMAGES - 1 and ds.num_captions == 5 * (TRIMMED_IMAGES - 1)
    assert all(len(c) == 5 for c in ds.captions.values())
    assert {s: len(n) for s, n in ds.splits.items()} == {"train": 4, "val": 2, "test": 2}
    assert not ds.report.split_problems  # the real lists do not name the missing image


def test_trimmed_flickr8k_normalises_the_jpg_1_line(tmp_path):
    """With the image present, its `.jpg.1#0` line joins the image's other four."""
    ds = load_dataset("flickr8k", root=trimmed_flickr8k(tmp_path, with_missing=True))
    assert ds.report.dropped_captions == 0 and not ds.report.missing_images
    assert ds.captions[MISSING_IMAGE][0] == "people waiting for the subway"
    assert len(ds.captions[MISSING_IMAGE]) == 5
    assert ".jpg.1" not in "".join(ds.captions)


def test_trimmed_kaggle_captions_keep_their_commas_and_quotes(tmp_path):
    official = quiet_load("flickr8k", root=trimmed_flickr8k(tmp_path / "official"))
    kaggle = quiet_load("flickr8k", root=trimmed_flickr8k(tmp_path / "kaggle", "kaggle"))
    assert kaggle.layout == "kaggle" and kaggle.report.dropped_captions == 0
    assert kaggle.captions == official.captions
    assert kaggle.report.split_made  # Kaggle's copy has no split files
    shore = "A dog shakes its head near the shore , a red ball next to it ."
    assert shore in kaggle.captions["1012212859_01547e3f17.jpg"]
    sign = (
        "A woman wearing heavy makeup stands in front of a store with a neon sign saying"
        ' , " Red Light . "'
    )
    assert sign in kaggle.captions["1859726819_9a793b3b44.jpg"]


# --- the full real Flickr8k text files, where this machine has them ----------------------

REFERENCE_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "flickr8k_text",
    Path("/work/shared/reference/flickr8k_text"),
)
REFERENCE = next(
    (p for p in REFERENCE_CANDIDATES if (p / "Flickr8k.token.txt").is_file()),
    REFERENCE_CANDIDATES[0],
)
needs_reference = pytest.mark.skipif(
    not (REFERENCE / "Flickr8k.token.txt").is_file(),
    reason=f"the full Flickr8k text files are not in {' or '.join(map(str, REFERENCE_CANDIDATES))}",
)


@needs_reference
def test_trimmed_flickr8k_lines_are_real_lines():
    """The trimmed copy is a cut of the real files, not an edit of them."""
    real_lines = set((REFERENCE / "Flickr8k.token.txt").read_text().splitlines())
    trimmed = (TRIMMED_FLICKR8K / "Flickr8k.token.txt").read_text().splitlines()
    assert set(trimmed) <= real_lines
    assert sum(line.startswith(MISSING_IMAGE) for line in trimmed) == 5
    for split_file in TRIMMED_FLICKR8K.glob("Flickr_8k.*Images.txt"):
        real = (REFERENCE / split_file.name).read_text().split()
        assert split_file.read_text().split() == [n for n in real if n in split_file.read_text()]


@pytest.fixture(scope="module")
def real_flickr8k(tmp_path_factory):
    """The real text files beside an image folder of empty stand-in files.

    The images themselves are not available here; the loader only lists the
    folder, so empty files with the real names (all but the one image the
    real folder lacks) make the real layout.
    """
    if not (REFERENCE / "Flickr8k.token.txt").is_file():
        pytest.skip(f"the full Flickr8k text files are not in {REFERENCE}")
    root = tmp_path_factory.mktemp("flickr8k")
    (root / "Flickr8k_text").mkdir()
    for source in REFERENCE.glob("*.txt"):
        (root / "Flickr8k_text" / source.name).symlink_to(source)
    lines = (REFERENCE / "Flickr8k.token.txt").read_text().splitlines()
    names = {normalize_image_name(line.split("#")[0]) for line in lines}
    image_dir = root / "Flicker8k_Dataset"
    image_dir.mkdir()
    for name in names - {MISSING_IMAGE}:
        (image_dir / name).touch()
    return root


def test_real_flickr8k_official_layout(real_flickr8k):
    with pytest.warns(UserWarning, match=MISSING_IMAGE):
        ds = load_dataset("flickr8k", root=real_flickr8k)
    assert len(ds.captions) == 8091
    assert ds.num_captions == 40455
    assert {s: len(n) for s, n in ds.splits.items()} == {"train": 6000, "val": 1000, "test": 1000}
    assert ds.report.missing_images == {MISSING_IMAGE: 5}
    assert ds.report.dropped_captions == 5
    assert not ds.report.duplicate_lines and not ds.report.malformed_lines
    assert all(len(c) == 5 for c in ds.captions.values())
    assert not set(ds.splits["train"]) & set(ds.splits["test"])


def test_real_flickr8k_kaggle_layout_loads_the_same(real_flickr8k, tmp_path):
    official = quiet_load("flickr8k", root=real_flickr8k)
    kaggle_root = tmp_path / "kaggle"
    kaggle_root.mkdir()
    (kaggle_root / "Images").symlink_to(real_flickr8k / "Flicker8k_Dataset")
    rows = []  # Kaggle's captions.txt: the token file's lines, minus the missing image
    for line in (REFERENCE / "Flickr8k.token.txt").read_text().splitlines():
        key, caption = line.split("\t")
        if not key.startswith(MISSING_IMAGE):
            rows.append((key.split("#")[0], caption))
    assert len(rows) == 40455
    (kaggle_root / "captions.txt").write_text(
        "image,caption\n" + "".join(f"{n},{c}\n" for n, c in rows)
    )
    kaggle = quiet_load("flickr8k", root=kaggle_root)
    assert kaggle.captions == official.captions
    assert kaggle.report.dropped_captions == 0


def test_load_dataset_uses_the_settings_it_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("CAPTION_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("CAPTION_SHAPES_IMAGES", "30")
    settings = get_settings(dataset="shapes", data_dir=tmp_path / "mine", shapes_images=12)
    ds = load_dataset(settings)
    assert ds.root == tmp_path / "mine" / "shapes" and len(ds.captions) == 12
    assert not (tmp_path / "elsewhere").exists()


def test_dropped_split_entries_are_warned_about(tmp_path, captions):
    names = list(captions)
    splits = splits_of(names)
    splits["test"] = [*splits["test"], "9999_not_there.jpg"]
    write_official(tmp_path, captions, splits)
    with pytest.warns(UserWarning, match=r"test: 1 images without captions or file.*9999_not"):
        ds = load_dataset("flickr8k", root=tmp_path)
    assert "9999_not_there.jpg" not in ds.splits["test"]


def test_a_made_split_is_warned_about(tmp_path, captions):
    write_official(tmp_path, captions)  # no split files
    with pytest.warns(UserWarning, match="no official split files.*Flickr_8k.trainImages.txt"):
        ds = load_dataset("flickr8k", root=tmp_path)
    assert ds.report.split_made and sum(map(len, ds.splits.values())) == len(captions)


def test_kaggle_captions_with_a_header_only_say_empty(tmp_path, captions):
    root = write_kaggle(tmp_path, captions)
    (root / "captions.txt").write_text("image,caption\n\n")
    with pytest.raises(DatasetError, match=r"captions.txt.*no caption rows.*empty"):
        load_dataset("flickr8k", root=root)
