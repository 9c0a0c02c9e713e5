"""The hostile cases of issue 23's "silently wrong or lost", "tracebacks" and "unclear" classes, as rows of
``test_hostile_inputs``' table: run folders, hyper-parameters, strict JSON, split files, folder datasets,
cache and log paths, unclear messages and classes too small to validate on."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from .fixtures import write_image
from .hostile_world import DESCRIBE, DESCRIPTIONS, FEATURES, IMPORT, NOTHING, REPRODUCE, TINY, VERIFY_CUB, World, _descriptions, _write


def _mkdir(name: str, files: tuple[str, ...] = ()) -> Callable[[World], None]:
    """A folder under tmp holding the named (empty or small) files."""

    def setup(w: World) -> None:
        folder = w.tmp / name
        folder.mkdir(parents=True, exist_ok=True)
        for f in files:
            (folder / f).write_text("a user's file\n")

    return setup


def _link(name: str, target: str) -> Callable[[World], None]:
    """A symbolic link tmp/name -> target (``{tmp}``-style placeholders filled)."""

    def setup(w: World) -> None:
        (w.tmp / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(w.fill(target), w.tmp / name)

    return setup


def _both(*setups: Callable[[World], None]) -> Callable[[World], None]:
    def setup(w: World) -> None:
        for one in setups:
            one(w)

    return setup


def _tree(w: World, per_class: int = 4) -> Path:
    """A folder dataset {tmp}/tree with classes cat and dog."""
    for c, name in enumerate(("cat", "dog")):
        for j in range(per_class):
            write_image(w.tmp / "tree" / name / f"{j}.jpg", seed=10 * c + j)
    return w.tmp / "tree"


def _tree_with(change: Callable[[Path], None]) -> Callable[[World], None]:
    def setup(w: World) -> None:
        change(_tree(w))

    return setup


def _non_utf8(tree: Path, image: bool = False) -> None:
    raw = os.fsencode(tree / "cat") + b"/caf\xe9.jpg" if image else os.fsencode(tree) + b"/caf\xe9"
    if image:
        write_image(Path(os.fsdecode(raw)), seed=5)
    else:
        os.mkdir(raw)
        write_image(Path(os.fsdecode(raw)) / "0.jpg", seed=6)


def _split_tree(w: World) -> None:
    """A train/ test/ folder dataset whose train/bird links to a folder outside it."""
    for split in ("train", "test"):
        for c, name in enumerate(("cat", "dog")):
            write_image(w.tmp / "split-tree" / split / name / "0.jpg", seed=10 * c)
    write_image(w.tmp / "elsewhere" / "0.jpg", seed=3)
    os.symlink(w.tmp / "elsewhere", w.tmp / "split-tree" / "train" / "bird")


def _split(rows: list, extra: str = "") -> Callable[[World], None]:
    """A split file {tmp}/s.json whose train list is ``rows`` (test: one real CUB image); ``extra`` is raw JSON text
    inserted as more top-level members."""
    real = [["001.Black_footed_Albatross/Black_footed_Albatross_0001_0.jpg", 0, "Black footed Albatross"]]

    def setup(w: World) -> None:
        body = json.dumps({"train": rows, "test": real})
        (w.tmp / "s.json").write_text(body[:-1] + extra + "}" if extra else body)

    return setup


def _description_set(generated, edits=None) -> Callable[[World], None]:
    """A stored description set {tmp}/set whose class 0 holds ``generated`` (and ``edits`` as its edits file)."""

    def setup(w: World) -> None:
        root = w.tmp / "set"
        (root / "classes").mkdir(parents=True)
        (root / "meta.json").write_text(json.dumps({"dataset": "cub", "source": "json", "settings": {}}))
        (root / "classes" / "0000.json").write_text(json.dumps({"class_index": 0, "generated": generated, "raw": []}))
        if edits is not None:
            (root / "edits").mkdir()
            (root / "edits" / "0000.json").write_text(json.dumps(edits))

    return setup


def _small_classes(w: World) -> None:
    """A folder dataset whose classes have 3 images each: 2 train after the 30 % test split, none left to validate."""
    for c, name in enumerate(("cat", "dog", "eel")):
        for j in range(3):
            write_image(w.tmp / "small" / name / f"{j}.jpg", seed=10 * c + j)
    (w.tmp / "d.json").write_text(json.dumps({"cat": ["a cat"], "dog": ["a dog"], "eel": ["an eel"]}))


def _fifo(name: str) -> Callable[[World], None]:
    def setup(w: World) -> None:
        os.mkfifo(w.tmp / name)

    return setup


RUN = [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/d.json", "--run-dir"]
VERIFY_FOLDER = ["verify-dataset", "--dataset", "folder", "--root", "{tmp}/tree", "--quick"]
VERIFY_SPLIT = [*VERIFY_CUB, "--split-file", "{tmp}/s.json"]
SWEEP_ARGS = ["estimate", "--classes", "2", "--images-per-class", "3", "--texts-per-class", "1"]
ALBATROSS = "001.Black_footed_Albatross/Black_footed_Albatross_0000_0.jpg"

# (id, setup, argv, exit status, fragment of the one stderr line; of stdout when the status is 0)
INTEGRITY_CASES = [
    # --run-dir: only a folder this tool made, or an empty or new one (checked before any encoding)
    ("run-dir-users-folder", _both(_descriptions, _mkdir("mine", ("results.csv",))), [*RUN, "{tmp}/mine"], 2, "is not a run folder of this tool"),
    ("run-dir-root", _descriptions, [*RUN, "/"], 2, "/ is not empty and is not a run folder of this tool"),
    ("run-dir-a-file", _both(_descriptions, _write("f.txt", "x")), [*RUN, "{tmp}/f.txt"], 2, "--run-dir " + "{tmp}/f.txt is a file"),
    ("run-dir-under-a-file", _both(_descriptions, _write("f.txt", "x")), [*RUN, "{tmp}/f.txt/run"], 2, "which is a file, not a folder"),
    (
        "run-dir-config-is-a-list",
        _both(_descriptions, _mkdir("r"), _write("r/config.json", "[]")),
        [*RUN, "{tmp}/r"],
        2,
        "is not a run folder of this tool",
    ),
    (
        "run-dir-dangling-link",
        _both(_descriptions, _link("r", "{tmp}/gone")),
        [*RUN, "{tmp}/r"],
        2,
        "The run folder {tmp}/r is a broken symbolic link",
    ),
    # hyper-parameters: finite, and not negative (a negative number in any spelling is a value, not an option)
    ("adapter-lr-inf", _descriptions, [*REPRODUCE, "--adapter-lr", "inf"], 2, "argument --adapter-lr: must be a finite number, got inf"),
    ("adapter-lr-nan", _descriptions, [*REPRODUCE, "--adapter-lr", "nan"], 2, "argument --adapter-lr: must be a finite number, got nan"),
    ("adapter-lr-negative", _descriptions, [*REPRODUCE, "--adapter-lr", "-1"], 2, "argument --adapter-lr: must be a finite number above 0, got -1"),
    ("adapter-lr-zero", _descriptions, [*REPRODUCE, "--adapter-lr", "0"], 2, "must be a finite number above 0, got 0"),
    ("adapter-lr-minus-inf", _descriptions, [*REPRODUCE, "--adapter-lr", "-inf"], 2, "argument --adapter-lr: must be a finite number, got -inf"),
    ("adapter-lr-text", _descriptions, [*REPRODUCE, "--adapter-lr", "fast"], 2, "'fast' is not a number"),
    ("adapter-decay-equals-negative", NOTHING, [*REPRODUCE, "--adapter-weight-decay=-1e9"], 2, "must be a finite number of at least 0, got -1e9"),
    ("adapter-decay-space-negative", NOTHING, [*REPRODUCE, "--adapter-weight-decay", "-1e9"], 2, "must be a finite number of at least 0, got -1e9"),
    ("adapter-decay-inf", NOTHING, [*REPRODUCE, "--adapter-weight-decay", "inf"], 2, "must be a finite number, got inf"),
    ("adapter-decay-dot-negative", NOTHING, [*REPRODUCE, "--adapter-weight-decay", "-.5"], 2, "at least 0, got -.5"),
    ("estimate-adapter-lr-nan", NOTHING, [*SWEEP_ARGS, "--adapter-lr", "nan"], 2, "argument --adapter-lr: must be a finite number"),
    ("estimate-decay-negative", NOTHING, [*SWEEP_ARGS, "--adapter-weight-decay", "-2E+3"], 2, "at least 0, got -2E+3"),
    ("shots-negative", NOTHING, [*SWEEP_ARGS, "--shots", "-1"], 2, "Shots must be >= 1"),
    ("describe-temperature-nan", NOTHING, [*DESCRIBE, "--source", "local", "--temperature", "nan"], 2, "temperature must be between 0 and 2"),
    ("describe-temperature-exp-negative", NOTHING, [*DESCRIBE, "--source", "local", "--temperature", "-1e3"], 2, "temperature must be between 0"),
    ("describe-timeout-exp-negative", NOTHING, [*DESCRIBE, "--source", "openai", "--timeout", "-1e3"], 2, "argument --timeout: must be a positive"),
    # JSON input: strict, one line for each way it can be wrong; a byte-order mark is fine
    (
        "json-duplicate-class",
        _write("dup.json", '{"Sooty Albatross": ["a"], "Sooty Albatross": ["b"]}'),
        [*IMPORT, "{tmp}/dup.json"],
        2,
        "appears twice",
    ),
    ("json-lone-surrogate", _write("sur.json", '{"Sooty Albatross": ["\\ud800"]}'), [*IMPORT, "{tmp}/sur.json"], 2, "lone surrogate"),
    ("json-lone-surrogate-key", _write("surk.json", '{"\\udfff": ["grey"]}'), [*IMPORT, "{tmp}/surk.json"], 2, "lone surrogate"),
    ("json-5000-digits", _write("int.json", '{"Sooty Albatross": [' + "9" * 5000 + "]}"), [*IMPORT, "{tmp}/int.json"], 2, "integer of 5000 digits"),
    ("json-utf16", _write("u16.json", '{"Sooty Albatross": ["grey"]}'.encode("utf-16")), [*IMPORT, "{tmp}/u16.json"], 2, "is not valid JSON"),
    ("json-fifo", _fifo("pipe.json"), [*IMPORT, "{tmp}/pipe.json"], 2, "is not a regular file"),
    ("json-bom-accepted", _write("bom.json", b"\xef\xbb\xbf" + json.dumps(DESCRIPTIONS).encode()), [*IMPORT, "{tmp}/bom.json"], 0, '"matched"'),
    (
        "reproduce-descriptions-duplicate",
        _write("dup.json", '{"Sooty Albatross": ["a"], "Sooty Albatross": ["b"]}'),
        [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/dup.json"],
        2,
        "the key 'Sooty Albatross' appears twice",
    ),
    (
        "set-generated-an-integer",
        _description_set(5),
        [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/set"],
        2,
        "('generated' is not a list of sentences)",
    ),
    ("set-generated-numbers", _description_set([1, 2]), [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/set"], 2, "has the wrong shape"),
    (
        "set-edits-replaced-a-list",
        _description_set(["grey"], {"added": [], "deleted": [], "replaced": ["x"]}),
        [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/set"],
        2,
        "'replaced' is not an object of sentence rewrites",
    ),
    (
        "set-edits-deleted-a-string",
        _description_set(["grey"], {"added": [], "deleted": "grey", "replaced": {}}),
        [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/set"],
        2,
        "'deleted' is not a list of sentences",
    ),
    ("set-edits-not-an-object", _description_set(["grey"], [1]), [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/set"], 2, "not a JSON object"),
    # split files: inside the dataset folder only, strict JSON
    ("split-etc-hostname", _split([["/etc/hostname", 0, "Black footed Albatross"]]), VERIFY_SPLIT, 2, "'/etc/hostname', which is not inside"),
    ("split-dot-dot", _split([["../../../../etc/hostname", 0, "Black footed Albatross"]]), VERIFY_SPLIT, 2, "which is not inside the dataset"),
    ("split-dot-dot-inside-name", _split([[f"001.x/../../{ALBATROSS}", 0, "Black footed Albatross"]]), VERIFY_SPLIT, 2, "not inside"),
    ("split-nul", _split([["a\u0000b.jpg", 0, "Black footed Albatross"]]), VERIFY_SPLIT, 2, "which is not inside the dataset"),
    ("split-duplicate-key", _split([[ALBATROSS, 0, "Black footed Albatross"]], ', "train": []'), VERIFY_SPLIT, 2, "'train' appears twice"),
    ("split-huge-label", _split([[ALBATROSS, int("9" * 80), "Black footed Albatross"]]), VERIFY_SPLIT, 2, "integer of 80 digits"),
    ("split-fifo", _fifo("s.json"), VERIFY_SPLIT, 2, "is not a regular file"),
    (
        "split-bom-accepted",
        _both(
            _split([[ALBATROSS, 0, "Black footed Albatross"]]),
            lambda w: (w.tmp / "s.json").write_bytes(b"\xef\xbb\xbf" + (w.tmp / "s.json").read_bytes()),
        ),
        VERIFY_SPLIT,
        0,
        '"num_train": 1',
    ),
    # folder datasets: loops, links out of the root, pipes, broken links, names that are not UTF-8
    ("folder-link-loop", _tree_with(lambda t: os.symlink("..", t / "cat" / "up")), VERIFY_FOLDER, 2, "is a symbolic link loop"),
    ("folder-link-to-itself", _tree_with(lambda t: os.symlink(".", t / "cat" / "again")), VERIFY_FOLDER, 2, "is a symbolic link loop"),
    ("folder-class-link-to-slash", _tree_with(lambda t: os.symlink("/", t / "everything")), VERIFY_FOLDER, 2, "is a symbolic link to /, outside"),
    ("folder-class-read-twice", _tree_with(lambda t: os.symlink("cat", t / "kitten")), VERIFY_FOLDER, 2, "the same folder, through a symbolic link"),
    ("folder-fifo-image", _tree_with(lambda t: os.mkfifo(t / "cat" / "x.png")), VERIFY_FOLDER, 2, "x.png is not a regular file"),
    (
        "folder-broken-image-link",
        _tree_with(lambda t: os.symlink("gone.jpg", t / "cat" / "b.jpg")),
        VERIFY_FOLDER,
        2,
        "b.jpg is a broken symbolic link",
    ),
    (
        "folder-image-link-to-itself",
        _tree_with(lambda t: os.symlink("s.jpg", t / "dog" / "s.jpg")),
        VERIFY_FOLDER,
        2,
        "s.jpg is a broken symbolic link",
    ),
    (
        "folder-broken-class-link",
        _tree_with(lambda t: os.symlink("/nowhere/birds", t / "birds")),
        VERIFY_FOLDER,
        2,
        "birds is a broken symbolic link",
    ),
    ("folder-class-name-not-utf8", _tree_with(_non_utf8), VERIFY_FOLDER, 2, "is not valid UTF-8 text"),
    ("folder-image-name-not-utf8", _tree_with(lambda t: _non_utf8(t, image=True)), VERIFY_FOLDER, 2, "'caf\ufffd.jpg'"),
    (
        "folder-split-link-outside",
        _split_tree,
        [*VERIFY_FOLDER[:4], "{tmp}/split-tree", "--quick"],
        2,
        "train/bird is a symbolic link to",
    ),
    # caches, logs and exports that cannot be what they must be: one line, before any work
    ("cache-dangling-link", _link("c", "{tmp}/gone"), [*FEATURES, *TINY], 2, "which does not exist"),
    ("cache-link-loop", _link("c", "{tmp}/c"), [*FEATURES, *TINY], 2, "Too many levels of symbolic links"),
    ("cache-a-file", _write("c", "x"), [*FEATURES, *TINY], 2, "--cache " + "{tmp}/c is a file, not a folder"),
    ("cache-under-a-file", _write("f.txt", "x"), [*FEATURES[:5], "--cache", "{tmp}/f.txt/c", *TINY], 2, "Not a directory"),
    ("describe-cache-a-file", _write("c", "x"), [*DESCRIBE, "--source", "attributes"], 2, "is a file, not a folder"),
    ("events-a-folder", NOTHING, ["--events", "{tmp}", *VERIFY_CUB], 2, "The events file {tmp} is a folder"),
    ("events-under-a-file", _write("f.txt", "x"), ["--events", "{tmp}/f.txt/e.jsonl", *VERIFY_CUB], 2, "which is a file, not a folder"),
    ("export-under-a-file", _write("f.txt", "x"), [*FEATURES, *TINY, "--export", "{tmp}/f.txt/out"], 2, "--export " + "{tmp}/f.txt/out lies under"),
    # unclear messages made clear
    ("describe-classes-empty-name", NOTHING, [*DESCRIBE, "--source", "attributes", "--classes", "Sooty Albatross,,"], 2, "has an empty class name"),
    ("describe-classes-leading-comma", NOTHING, [*DESCRIBE, "--source", "attributes", "--classes", ",Sooty Albatross"], 2, "empty class name"),
    ("describe-classes-zero", NOTHING, [*DESCRIBE, "--source", "attributes", "--classes", "0"], 2, "--classes 0 picks no class"),
    ("device-mps-without-mps", NOTHING, [*FEATURES, *TINY[:4], "--device", "mps"], 2, "MPS (the Apple-silicon GPU) was requested"),
    (
        "attributes-on-a-folder-dataset",
        _tree_with(lambda t: None),
        ["describe", "--dataset", "folder", "--root", "{tmp}/tree", "--cache", "{tmp}/c", "--source", "attributes"],
        2,
        "The folder dataset has no class attributes here. Only CUB-200-2011 and the demo",
    ),
    # a class too small to validate on: refused before the sweep (it used to fail after it, "all NA")
    (
        "reproduce-classes-of-2-train-images",
        _small_classes,
        ["reproduce", "--dataset", "folder", "--root", "{tmp}/small", "--cache", "{tmp}/c", *TINY[:-2], "--descriptions", "{tmp}/d.json"]
        + ["--shots", "1", "--texts", "0"],
        2,
        "3 of 3 classes cannot be trained and validated",
    ),
    ("reproduce-cub-of-1-train-image", _descriptions, [*REPRODUCE, *TINY[:-2], "--descriptions", "{tmp}/d.json"], 2, "at least 3 training images"),
]
