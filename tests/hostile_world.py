"""What every hostile case starts from (``World``: a fresh CUB and Pets folder) and the command lines the cases vary."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TINY = ["--model", "fewshot-tiny", "--pretrained", "", "--device", "cpu", "--workers", "0"]
DESCRIPTIONS = {"Black footed Albatross": ["dark"], "Laysan Albatross": ["white head"], "Sooty Albatross": ["sooty"]}


@dataclass
class World:
    """The folders a case may break, made fresh for every case."""

    tmp: Path
    cub: Path  # a CUB_200_2011 folder's parent
    pets: Path

    @property
    def base(self) -> Path:
        return self.cub / "CUB_200_2011"

    def fill(self, arg: str) -> str:
        return arg.format(cub=self.cub, pets=self.pets, tmp=self.tmp)


def _write(name: str, data: str | bytes) -> Callable[[World], None]:
    def setup(w: World) -> None:
        path = w.tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())

    return setup


def _descriptions(w: World) -> None:
    (w.tmp / "d.json").write_text(json.dumps(DESCRIPTIONS))


VERIFY_CUB = ["verify-dataset", "--dataset", "cub", "--root", "{cub}", "--quick"]
IMPORT = ["import-descriptions", "--dataset", "cub", "--root", "{cub}", "--cache", "{tmp}/c", "--file"]
DESCRIBE = ["describe", "--dataset", "cub", "--root", "{cub}", "--cache", "{tmp}/c"]
FEATURES = ["features", "--dataset", "cub", "--root", "{cub}", "--cache", "{tmp}/c", "--splits", "test"]
REPRODUCE = ["reproduce", "--dataset", "cub", "--root", "{cub}", "--cache", "{tmp}/c", "--shots", "1", "--texts", "0"]
NOTHING = None
