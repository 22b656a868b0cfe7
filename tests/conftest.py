import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"


@pytest.fixture
def rng():
    return np.random.default_rng(20261121)


@pytest.fixture
def samples():
    return SAMPLES
