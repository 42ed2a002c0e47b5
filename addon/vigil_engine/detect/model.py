"""LiteRT interpreter around an SSD-style TFLite model with post-processing.

One ``Model`` is used by one thread at a time: LiteRT interpreters are not
thread-safe, so the detector pool owns one per worker.
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .labels import CORAL_COCO, read_labels

_LOGGER = logging.getLogger(__name__)

MODEL_NAME = "mobilenet_ssd_v2_coco_quant_postprocess.tflite"
MADV_DONTNEED = 4
LABELS_NAME = "coco_labels.txt"


def default_model_dir() -> Path:
    """Where scripts/fetch-model puts the model (``addon/models``), or $VIGIL_MODEL_DIR."""
    env = os.environ.get("VIGIL_MODEL_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True, slots=True)
class RawDetection:
    """A box in the model's input square, normalised 0..1 as (x1, y1, x2, y2)."""

    label: str
    score: float
    box: tuple[float, float, float, float]


def release_file_pages(path: Path) -> int:
    """Drop this process's resident pages of the files mapped from ``path`` (a file, or a
    directory and everything under it); returns the bytes advised. Only mappings the
    process cannot have changed are touched (not writable, no private copies): their
    pages come back from the page cache if they are read again, so nothing is lost.

    Why: LiteRT maps the model file and XNNPACK packs its weights into memory of its own
    when the tensors are allocated, after which the file's pages are dead weight in RSS
    (5.9 MB, the whole file; a call touches 0.06 MB of them again). Likewise LiteRT's
    library code: building an interpreter registers every operator it knows, touching
    9.4 MB of code pages, of which inference with this model runs about 1.4 MB."""
    target = str(path.resolve())
    spans: list[tuple[int, int]] = []
    try:
        with open("/proc/self/smaps", encoding="utf-8") as smaps:
            span: tuple[int, int] | None = None
            for line in smaps:
                fields = line.split()
                if not fields[0].endswith(":"):  # a mapping's header line
                    name = fields[5] if len(fields) > 5 else ""
                    mine = name == target or name.startswith(target + os.sep)
                    span = None
                    if mine and "w" not in fields[1]:
                        start, end = (int(v, 16) for v in fields[0].split("-"))
                        span = (start, end)
                elif fields[0] == "Anonymous:" and span is not None:
                    if fields[1] == "0":  # nothing of its own in it: all file pages
                        spans.append(span)
                    span = None
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not Linux: nothing to release this way
        return 0
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    released = 0
    for start, end in spans:
        if madvise(start, end - start, MADV_DONTNEED) == 0:
            released += end - start
        else:
            _LOGGER.debug("madvise on %s failed: errno %d", path, ctypes.get_errno())
    return released


class ModelError(RuntimeError):
    """The model cannot be loaded or does not look like an SSD detector."""


class Model:
    """A TFLite SSD detector: uint8 RGB square in, labelled boxes out."""

    def __init__(self, model_path: Path | None = None, labels_path: Path | None = None,
                 threads: int = 2) -> None:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        model_path = model_path or default_model_dir() / MODEL_NAME
        if not model_path.is_file():
            raise ModelError(
                f"detection model not found at {model_path} (run scripts/fetch-model "
                "or set detector.model)"
            )
        if labels_path is None:
            candidate = model_path.parent / LABELS_NAME
            labels_path = candidate if candidate.is_file() else None
        self.labels = read_labels(labels_path) if labels_path else dict(CORAL_COCO)
        self.path = model_path
        try:
            self._interp = Interpreter(model_path=str(model_path), num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise ModelError(f"cannot load model {model_path}: {err}") from err
        release_file_pages(model_path)
        release_file_pages(Path(ai_edge_litert.__file__).parent)  # its code, see above
        inp = self._interp.get_input_details()[0]
        self._input_index = inp["index"]
        self._input_dtype = inp["dtype"]
        _, self.height, self.width, _ = (int(v) for v in inp["shape"])
        outs = self._interp.get_output_details()
        if len(outs) < 4:
            raise ModelError(f"{model_path}: expected SSD post-processed outputs "
                             f"(boxes, classes, scores, count), got {len(outs)} outputs")
        self._outs = [o["index"] for o in outs[:4]]

    @property
    def input_size(self) -> int:
        return self.width

    def detect(self, image: np.ndarray, min_score: float) -> list[RawDetection]:
        """Run one inference on an RGB image already sized to the model input."""
        if image.shape[:2] != (self.height, self.width):
            raise ValueError(f"image is {image.shape}, model wants {self.height}x{self.width}")
        tensor = image[np.newaxis]
        if self._input_dtype != np.uint8:
            tensor = (tensor.astype(np.float32) - 127.5) / 127.5
        self._interp.set_tensor(self._input_index, tensor)
        self._interp.invoke()
        boxes, classes, scores, count = (self._interp.get_tensor(i) for i in self._outs)
        found: list[RawDetection] = []
        for i in range(int(count[0])):
            score = float(scores[0][i])
            if score < min_score:
                continue
            label = self.labels.get(int(classes[0][i]))
            if label is None:
                continue
            y1, x1, y2, x2 = (float(np.clip(v, 0.0, 1.0)) for v in boxes[0][i])
            if x2 <= x1 or y2 <= y1:
                continue
            found.append(RawDetection(label, score, (x1, y1, x2, y2)))
        return found
