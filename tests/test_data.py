"""Tests of ncedu.data: the Fashion-MNIST reader (local, corrupted, offline, downloaded),
digits, the Gaussian mixture, balanced subsets and argument checks.

Expectations are computed independently: Fashion-MNIST from the raw IDX bytes parsed
here with ``struct``, digits from scikit-learn directly, the mixture's geometry from
its documented definition.
"""

from __future__ import annotations

import gzip
import http.server
import importlib.util
import io
import itertools
import struct
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from ncedu import data

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

REAL_URLOPEN = urllib.request.urlopen  # the fixture below replaces it; the HTTP-server tests restore it

needs_fashion = pytest.mark.skipif(
    not all((DEBIAN / f"{n}.gz").is_file() or (DEBIAN / n).is_file() for n in itertools.chain(*NAMES.values())),
    reason=f"Fashion-MNIST IDX files are not installed in {DEBIAN} (apt-get install dataset-fashion-mnist)",
)


# ----------------------------------------------------------------------------------------------
# Helpers and fixtures
# ----------------------------------------------------------------------------------------------


def debian_bytes(name: str) -> bytes:
    """The uncompressed IDX bytes of a Debian file."""
    if (DEBIAN / name).is_file():
        return (DEBIAN / name).read_bytes()
    return gzip.decompress((DEBIAN / f"{name}.gz").read_bytes())


def debian_gz(name: str) -> bytes:
    if (DEBIAN / f"{name}.gz").is_file():
        return (DEBIAN / f"{name}.gz").read_bytes()
    return gzip.compress((DEBIAN / name).read_bytes())


def parse_raw(payload: bytes) -> np.ndarray:
    """An IDX parser independent of ncedu's, for the ubyte files only."""
    magic, = struct.unpack(">I", payload[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(f">{ndim}I", payload[4:4 + 4 * ndim])
    return np.frombuffer(bytearray(payload[4 + 4 * ndim:]), dtype=np.uint8).reshape(dims)


@pytest.fixture(scope="module")
def raw():
    """Raw Fashion-MNIST arrays per split: (images uint8 (N, 28, 28), labels uint8 (N,))."""
    return {
        split: tuple(parse_raw(debian_bytes(n)) for n in names) for split, names in NAMES.items()
    }


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No NCEDU_DATA, a private cache dir, and no network unless a test serves one."""
    monkeypatch.delenv("NCEDU_DATA", raising=False)
    monkeypatch.delenv(data.FASHION_MNIST_URL_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return tmp_path / "xdg-cache" / "ncedu" / "fashion-mnist"


def files_in(folder: Path) -> list:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def copy_split(split: str, dest: Path, compressed: bool) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in NAMES[split]:
        if compressed:
            (dest / f"{name}.gz").write_bytes(debian_gz(name))
        else:
            (dest / name).write_bytes(debian_bytes(name))
    return dest


def image_index(images: np.ndarray) -> dict:
    return {img.tobytes(): i for i, img in enumerate(images.reshape(len(images), -1))}


# ----------------------------------------------------------------------------------------------
# Fashion-MNIST from the real files
# ----------------------------------------------------------------------------------------------


@needs_fashion
def test_fashion_train_shapes_labels_and_standardisation(raw):
    X, y = data.load("fashion-mnist", "train")
    assert X.shape == (60000, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (60000,) and y.dtype == torch.int64
    np.testing.assert_array_equal(y.numpy(), raw["train"][1])
    assert np.bincount(y.numpy()).tolist() == [6000] * 10
    assert abs(float(X.mean())) < 0.01 and abs(float(X.std()) - 1.0) < 0.01


@needs_fashion
def test_fashion_constants_match_the_raw_pixels(raw):
    counts = torch.bincount(torch.from_numpy(raw["train"][0]).ravel(), minlength=256).double().numpy()
    values = np.arange(256) / 255.0
    mean = (counts * values).sum() / counts.sum()
    std = np.sqrt((counts * (values - mean) ** 2).sum() / counts.sum())
    assert mean == pytest.approx(0.2860, abs=5e-4)
    assert std == pytest.approx(0.3530, abs=5e-4)


@needs_fashion
def test_fashion_test_split_pixels_equal_the_raw_bytes(raw):
    images, labels = raw["test"]
    X, y = data.load("fashion-mnist", "test", normalize=False)
    assert X.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(X[:, 0].numpy(), images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y.numpy(), labels)
    assert float(X.min()) == 0.0 and float(X.max()) == 1.0

    Xn, _ = data.load("fashion-mnist", "test")
    expected = (images.astype(np.float64) / 255.0 - 0.2860) / 0.3530
    np.testing.assert_allclose(Xn[:, 0].numpy(), expected, atol=1e-5)

    Xf, _ = data.load("fashion-mnist", "test", flatten=True)
    assert Xf.shape == (10000, 784)
    np.testing.assert_allclose(Xf.numpy(), expected.reshape(10000, 784), atol=1e-5)


@needs_fashion
def test_fashion_per_class_subset_is_balanced_and_real(raw):
    images, labels = raw["test"]
    where = image_index(images)
    X, y = data.load("fashion-mnist", "test", per_class=30, seed=3, normalize=False)
    assert X.shape == (300, 1, 28, 28)
    assert np.bincount(y.numpy(), minlength=10).tolist() == [30] * 10
    pixels = np.rint(X.numpy() * 255).astype(np.uint8).reshape(300, -1)
    idx = np.array([where[p.tobytes()] for p in pixels])
    np.testing.assert_array_equal(labels[idx], y.numpy())
    assert len(set(idx.tolist())) == 300
    assert np.all(np.diff(idx) > 0), "the subset keeps the dataset's order"


@needs_fashion
def test_fashion_per_class_deterministic_per_seed():
    a = data.load("fashion-mnist", "test", per_class=20, seed=7)
    b = data.load("fashion-mnist", "test", per_class=20, seed=7)
    c = data.load("fashion-mnist", "test", per_class=20, seed=8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@needs_fashion
def test_fashion_per_class_too_large_names_class_and_maximum():
    with pytest.raises(ValueError, match=r"per_class=1001.*class 0 \('T-shirt/top'\).*per_class=1000"):
        data.load("fashion-mnist", "test", per_class=1001)


@needs_fashion
def test_fashion_repeated_loads_use_the_in_process_cache(monkeypatch):
    first = data.load("fashion-mnist", "test", per_class=5)

    def no_more_reading(*args, **kwargs):
        raise AssertionError("the files were decompressed again")

    monkeypatch.setattr(gzip, "decompress", no_more_reading)
    again = data.load("fashion-mnist", "test", per_class=5)
    assert torch.equal(first[0], again[0])


@needs_fashion
@pytest.mark.parametrize("compressed", [False, True])
def test_fashion_from_ncedu_data_subfolder(tmp_path, monkeypatch, raw, compressed):
    copy_split("test", tmp_path / "mine" / "fashion-mnist", compressed)
    monkeypatch.setenv("NCEDU_DATA", str(tmp_path / "mine"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    X, y = data.load("fashion-mnist", "test", normalize=False)
    np.testing.assert_array_equal(y.numpy(), raw["test"][1])
    np.testing.assert_array_equal(np.rint(X[:, 0].numpy() * 255).astype(np.uint8), raw["test"][0])


# ----------------------------------------------------------------------------------------------
# Corrupted and malformed files
# ----------------------------------------------------------------------------------------------


@needs_fashion
def test_flipped_byte_fails_the_checksum(tmp_path):
    root = copy_split("test", tmp_path / "root", compressed=False)
    victim = root / "t10k-images-idx3-ubyte"
    payload = bytearray(victim.read_bytes())
    payload[16 + 12345] ^= 0xFF  # a pixel: the IDX structure stays valid
    victim.write_bytes(bytes(payload))
    with pytest.raises(data.DatasetCorruptedError, match=r"t10k-images-idx3-ubyte is corrupted.*SHA-256.*Delete it"):
        data.load("fashion-mnist", "test", root=root)
    assert issubclass(data.DatasetCorruptedError, RuntimeError)


@needs_fashion
def test_damaged_gzip_is_reported_as_corrupted(tmp_path):
    root = copy_split("test", tmp_path / "root", compressed=True)
    victim = root / "t10k-labels-idx1-ubyte.gz"
    blob = bytearray(victim.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    victim.write_bytes(bytes(blob))
    with pytest.raises(data.DatasetCorruptedError, match=r"t10k-labels-idx1-ubyte\.gz is corrupted"):
        data.load("fashion-mnist", "test", root=root)


@needs_fashion
def test_truncated_local_file_is_reported_as_corrupted(tmp_path):
    root = copy_split("test", tmp_path / "root", compressed=False)
    victim = root / "t10k-labels-idx1-ubyte"
    victim.write_bytes(victim.read_bytes()[:5000])
    with pytest.raises(data.DatasetCorruptedError, match=r"t10k-labels-idx1-ubyte is corrupted"):
        data.load("fashion-mnist", "test", root=root)


def write(path: Path, payload: bytes) -> Path:
    path.write_bytes(payload)
    return path


def test_read_idx_parses_a_small_big_endian_file(tmp_path):
    values = [1, -2, 300, -32768, 32767, 7]
    payload = b"\x00\x00\x0b\x02" + struct.pack(">II", 2, 3) + struct.pack(">6h", *values)
    out = data.read_idx(write(tmp_path / "small-idx2-short", payload))
    assert out.shape == (2, 3)
    assert out.tolist() == [values[:3], values[3:]]
    gz = data.read_idx(write(tmp_path / "small.gz", gzip.compress(payload)))
    assert gz.tolist() == out.tolist()


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", r"not an IDX file.*0 byte"),
        (b"\x1f\x8b\x08\x00" + bytes(20), r"bad magic number 0x1f8b0800"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 2) + b"ab", r"bad magic number 0x00000701"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), r"truncated.*3 dimensions"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + bytes(7), r"truncated.*\(10,\).*10 bytes.*only 7"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes(5), r"2 unexpected byte"),
    ],
    ids=["empty", "gzip-bytes-not-decompressed", "unknown-type", "short-header", "truncated-data", "trailing"],
)
def test_read_idx_rejects_malformed_files(tmp_path, payload, message):
    path = write(tmp_path / "bad-idx", payload)
    with pytest.raises(data.IDXFormatError, match=message):
        data.read_idx(path)
    assert issubclass(data.IDXFormatError, ValueError)


def test_read_idx_checks_the_expected_magic(tmp_path):
    path = write(tmp_path / "labels", b"\x00\x00\x08\x01" + struct.pack(">I", 2) + b"\x01\x02")
    assert data.read_idx(path, magic=2049).tolist() == [1, 2]
    with pytest.raises(data.IDXFormatError, match=r"magic number 2049 but 2051 was expected"):
        data.read_idx(path, magic=2051)


# ----------------------------------------------------------------------------------------------
# Offline and download
# ----------------------------------------------------------------------------------------------


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """Every local source of Fashion-MNIST points at an empty folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("NCEDU_DATA", str(empty))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no-debian")
    return empty


def serve(monkeypatch, payloads: dict, requested: list) -> None:
    def fake_urlopen(url, *args, **kwargs):
        requested.append(url)
        if url not in payloads:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(payloads[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)


def test_offline_without_a_copy_names_every_way_to_get_it(nowhere, isolated):
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load("fashion-mnist", "train")
    message = str(info.value)
    assert "NCEDU_DATA" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert URL in message
    assert "network is unreachable" in message
    assert isinstance(info.value, RuntimeError)
    assert files_in(isolated) == []


@needs_fashion
def test_download_lands_in_the_cache_and_loads(nowhere, isolated, monkeypatch, raw):
    requested = []
    serve(monkeypatch, {f"{URL}{n}.gz": debian_gz(n) for n in NAMES["test"]}, requested)
    X, y = data.load("fashion-mnist", "test", normalize=False)
    assert sorted(requested) == sorted(f"{URL}{n}.gz" for n in NAMES["test"])
    assert files_in(isolated) == sorted(f"{n}.gz" for n in NAMES["test"])
    np.testing.assert_array_equal(y.numpy(), raw["test"][1])
    np.testing.assert_array_equal(np.rint(X[:, 0].numpy() * 255).astype(np.uint8), raw["test"][0])

    requested.clear()
    serve(monkeypatch, {}, requested)  # a second load reads the cached files
    data.load("fashion-mnist", "test", per_class=3)
    assert requested == []


def flipped_gzip(name: str) -> bytes:
    payload = bytearray(debian_bytes(name))
    payload[-1] ^= 0x01
    return gzip.compress(bytes(payload))


@needs_fashion
@pytest.mark.parametrize(
    "body, message",
    [
        (lambda n: flipped_gzip(n), r"download of .*t10k-labels-idx1-ubyte\.gz is corrupted.*nothing was saved"),
        (lambda n: b"<html>Service unavailable</html>", r"download of .*t10k-labels-idx1-ubyte\.gz is not a gzip"),
    ],
    ids=["wrong-bytes", "not-gzip"],
)
def test_bad_download_is_rejected_and_leaves_nothing(nowhere, isolated, monkeypatch, body, message):
    images, labels = NAMES["test"]
    served = {f"{URL}{images}.gz": debian_gz(images), f"{URL}{labels}.gz": body(labels)}
    serve(monkeypatch, served, [])
    with pytest.raises(data.DatasetCorruptedError, match=message):
        data.load("fashion-mnist", "test")
    assert labels + ".gz" not in files_in(isolated)
    assert not any(name.endswith(".part") for name in files_in(isolated))


def test_interrupted_download_leaves_nothing(nowhere, isolated, monkeypatch):
    class Broken(io.BytesIO):
        def read(self, *args):
            if self.tell() > 0:
                raise ConnectionResetError("connection reset by peer (test)")
            return super().read(10)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, *a, **k: Broken(b"x" * 100))
    with pytest.raises(data.DatasetNotFoundError, match=r"connection reset by peer"):
        data.load("fashion-mnist", "test")
    assert files_in(isolated) == []


# ----------------------------------------------------------------------------------------------
# Download over real HTTP: what Colab does, against a local server serving the official file layout
# ----------------------------------------------------------------------------------------------


class IDXServer:
    """A local HTTP server serving ``/fashion/<name>.gz`` from a dict, logging each request path.

    ``short`` names files whose response declares its full Content-Length but stops halfway,
    as a dropped connection does.
    """

    def __init__(self, files: dict, short: tuple = ()):
        self.files = {f"fashion/{name}": body for name, body in files.items()}
        self.short = {f"fashion/{name}" for name in short}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path.lstrip("/") in server.short else body)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/fashion/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_mirror(nowhere, isolated, monkeypatch):
    """Real urllib against a local server named by NCEDU_FASHION_MNIST_URL; yields a server factory."""
    monkeypatch.setattr(urllib.request, "urlopen", REAL_URLOPEN)
    servers = []

    def start(files: dict, short: tuple = ()) -> IDXServer:
        server = IDXServer(files, short).__enter__()
        servers.append(server)
        monkeypatch.setenv(data.FASHION_MNIST_URL_ENV, server.url)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def official_gz_files(split: str) -> dict:
    """The split's files as the official server lays them out: ``<name>.gz``, gzip-compressed IDX."""
    return {f"{n}.gz": debian_gz(n) for n in NAMES[split]}


@needs_fashion
def test_http_download_is_verified_cached_and_read_back(http_mirror, isolated, raw):
    server = http_mirror(official_gz_files("test"))
    X, y = data.load("fashion-mnist", "test", normalize=False)
    assert sorted(server.requests) == sorted(f"/fashion/{n}.gz" for n in NAMES["test"])
    assert files_in(isolated) == sorted(f"{n}.gz" for n in NAMES["test"])
    for name in NAMES["test"]:  # what was saved is the served file, byte for byte
        assert (isolated / f"{name}.gz").read_bytes() == debian_gz(name)
    np.testing.assert_array_equal(y.numpy(), raw["test"][1])
    np.testing.assert_array_equal(np.rint(X[:, 0].numpy() * 255).astype(np.uint8), raw["test"][0])
    server.requests.clear()
    data.load("fashion-mnist", "test", per_class=2)
    assert server.requests == [], "a second load must read the cache, not download again"


@needs_fashion
def test_http_download_accepts_a_base_url_without_trailing_slash(http_mirror, isolated, monkeypatch, raw):
    server = http_mirror(official_gz_files("test"))
    monkeypatch.setenv(data.FASHION_MNIST_URL_ENV, server.url.rstrip("/"))
    _, y = data.load("fashion-mnist", "test")
    assert sorted(server.requests) == sorted(f"/fashion/{n}.gz" for n in NAMES["test"])
    np.testing.assert_array_equal(y.numpy(), raw["test"][1])


@needs_fashion
def test_http_download_failing_its_checksum_is_refused_and_nothing_is_kept(http_mirror, isolated):
    images, labels = NAMES["test"]
    files = official_gz_files("test")
    files[f"{labels}.gz"] = flipped_gzip(labels)  # a well-formed gzip whose payload differs by one bit
    server = http_mirror(files)
    with pytest.raises(data.DatasetCorruptedError) as info:
        data.load("fashion-mnist", "test")
    message = str(info.value)
    assert f"{server.url}{labels}.gz is corrupted" in message
    assert data.FASHION_MNIST_SHA256[labels] in message and "nothing was saved" in message
    assert "NCEDU_DATA" in message  # and it says how else to get the files
    assert files_in(isolated) == [f"{images}.gz"], "only the verified file may stay in the cache"


@needs_fashion
def test_http_download_cut_short_is_refused_and_nothing_is_kept(http_mirror, isolated):
    images, labels = NAMES["test"]
    server = http_mirror(official_gz_files("test"), short=(f"{images}.gz",))
    with pytest.raises(data.DatasetNotFoundError, match=r"ended after \d+ of \d+ bytes"):
        data.load("fashion-mnist", "test")
    assert server.requests == [f"/fashion/{images}.gz"]
    assert files_in(isolated) == []


def test_http_download_missing_on_the_server_names_every_way_to_get_it(http_mirror, isolated):
    server = http_mirror({})
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load("fashion-mnist", "train")
    message = str(info.value)
    assert "404" in message and server.url in message and data.FASHION_MNIST_URL_ENV in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert files_in(isolated) == []


# ----------------------------------------------------------------------------------------------
# digits
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn is needed for 'digits'")
    bunch = datasets.load_digits()
    return bunch.images, bunch.target


def rows(X: torch.Tensor) -> list:
    return sorted(map(tuple, np.rint(X.reshape(len(X), -1).numpy() * 16).astype(int).tolist()))


def test_digits_split_is_a_stratified_80_20_partition(digits):
    images, target = digits
    Xtr, ytr = data.load("digits", "train", normalize=False)
    Xte, yte = data.load("digits", "test", normalize=False)
    assert Xtr.shape[1:] == (1, 8, 8) and Xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    assert len(Xtr) + len(Xte) == len(images) == 1797
    full = np.bincount(target)
    test_counts = np.bincount(yte.numpy(), minlength=10)
    np.testing.assert_array_equal(np.bincount(ytr.numpy(), minlength=10) + test_counts, full)
    assert np.all(np.abs(test_counts - 0.2 * full) <= 0.5)
    assert rows(torch.cat([Xtr, Xte])) == sorted(map(tuple, images.reshape(1797, -1).astype(int).tolist()))
    assert float(Xtr.min()) >= 0.0 and float(Xtr.max()) <= 1.0


def test_digits_normalisation_uses_the_training_statistics(digits):
    Xtr, _ = data.load("digits", "train")
    raw_train, _ = data.load("digits", "train", normalize=False)
    mean, std = raw_train.double().mean(), raw_train.double().std(unbiased=False)
    assert abs(float(Xtr.mean())) < 1e-5 and float(Xtr.std(unbiased=False)) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(Xtr.numpy(), ((raw_train.double() - mean) / std).numpy(), atol=1e-5)
    Xte, _ = data.load("digits", "test")
    raw_test, _ = data.load("digits", "test", normalize=False)
    np.testing.assert_allclose(Xte.numpy(), ((raw_test.double() - mean) / std).numpy(), atol=1e-5)
    assert torch.equal(data.load("digits", "test", seed=5)[0], Xte), "the split does not depend on seed"
    assert data.load("digits", flatten=True)[0].shape == (len(Xtr), 64)


def test_digits_per_class(digits):
    _, ytr = data.load("digits", "train")
    X, y = data.load("digits", "train", per_class=20, seed=1)
    assert X.shape == (200, 1, 8, 8)
    assert np.bincount(y.numpy()).tolist() == [20] * 10
    again = data.load("digits", "train", per_class=20, seed=1)
    other = data.load("digits", "train", per_class=20, seed=2)
    assert torch.equal(X, again[0]) and torch.equal(y, again[1])
    assert not torch.equal(X, other[0])
    counts = np.bincount(ytr.numpy())
    c, most = int(counts.argmin()), int(counts.min())
    with pytest.raises(ValueError, match=rf"per_class={most + 1} .* class {c} .*per_class={most}\b"):
        data.load("digits", "train", per_class=most + 1)
    assert data.load("digits", "train", per_class=most)[0].shape == (10 * most, 1, 8, 8)


def test_digits_without_scikit_learn(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    data._digits_all.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install scikit-learn"):
            data.load("digits")
    finally:
        data._digits_all.cache_clear()


# ----------------------------------------------------------------------------------------------
# Gaussian mixture
# ----------------------------------------------------------------------------------------------


def test_gaussian_shapes_balance_and_determinism():
    X, y = data.gaussian_mixture(num_classes=4, dim=5, per_class=25, seed=3)
    assert X.shape == (100, 5) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert y.tolist() == sorted([0, 1, 2, 3] * 25)
    X2, y2 = data.gaussian_mixture(num_classes=4, dim=5, per_class=25, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    assert not torch.equal(X, data.gaussian_mixture(num_classes=4, dim=5, per_class=25, seed=4)[0])


def class_means(X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    return np.stack([X[y == c].double().mean(0).numpy() for c in range(int(y.max()) + 1)])


def test_gaussian_train_and_test_share_the_mixture_but_not_the_samples():
    train = data.load("gaussian", "train", per_class=4000, seed=2, num_classes=3, dim=4)
    test = data.load("gaussian", "test", per_class=4000, seed=2, num_classes=3, dim=4)
    assert not torch.equal(train[0], test[0])
    np.testing.assert_allclose(class_means(*train), class_means(*test), atol=0.1)


@pytest.mark.parametrize("C, dim", [(4, 3), (5, 10), (6, 2), (3, 1)])
def test_gaussian_means_are_separation_apart(C, dim):
    X, y = data.gaussian_mixture(num_classes=C, dim=dim, per_class=400, separation=5.0, noise=0.01, seed=1)
    means = class_means(X, y)
    np.testing.assert_allclose(means.mean(0), 0.0, atol=1e-2)
    dist = np.linalg.norm(means[:, None] - means[None], axis=-1)
    off = dist[~np.eye(C, dtype=bool)]
    if dim >= C - 1:
        np.testing.assert_allclose(off, 5.0, atol=1e-2)  # a regular simplex: every pair
    else:
        nearest = np.where(np.eye(C, dtype=bool), np.inf, dist).min(1)
        np.testing.assert_allclose(nearest, 5.0, atol=1e-2)
        assert off.min() == pytest.approx(5.0, abs=1e-2)
    within = X.double().numpy() - means[y.numpy()]
    assert within.std() == pytest.approx(0.01, rel=0.1)


def test_load_gaussian_defaults():
    X, y = data.load("gaussian")
    assert X.shape == (300, 2)
    assert np.bincount(y.numpy()).tolist() == [100, 100, 100]


# ----------------------------------------------------------------------------------------------
# Metadata and bad arguments
# ----------------------------------------------------------------------------------------------


def test_names_and_classes():
    assert set(data.DATASETS) == {"fashion-mnist", "mnist", "cifar10", "digits", "gaussian"}
    assert list(data.class_names("fashion-mnist")) == FASHION_CLASSES
    assert [data.num_classes(n) for n in ("fashion-mnist", "mnist", "cifar10", "digits")] == [10] * 4
    assert data.class_names("cifar10")[0] == "airplane"
    assert data.num_classes("Fashion_MNIST") == 10


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(name="imagenet"), ValueError, r"unknown dataset name 'imagenet'.*'fashion-mnist'.*'digits'"),
        (dict(name=3), TypeError, r"name must be a string"),
        (dict(name="digits", split="val"), ValueError, r"split must be 'train' or 'test', got 'val'"),
        (dict(name="digits", per_class=0), ValueError, r"per_class must be at least 1, got 0"),
        (dict(name="digits", per_class=-3), ValueError, r"per_class must be at least 1, got -3"),
        (dict(name="digits", per_class=2.5), TypeError, r"per_class must be an integer"),
        (dict(name="digits", per_class="10"), TypeError, r"per_class must be an integer"),
        (dict(name="digits", per_class=True), TypeError, r"per_class must be an integer"),
        (dict(name="digits", seed=-1), ValueError, r"seed must be at least 0"),
        (dict(name="digits", normalize="yes"), TypeError, r"normalize must be True or False"),
        (dict(name="digits", dim=3), TypeError, r"only 'gaussian' accepts extra keywords"),
        (dict(name="gaussian", per_class=0), ValueError, r"per_class must be at least 1"),
        (dict(name="gaussian", dim=0), ValueError, r"dim must be at least 1"),
        (dict(name="gaussian", num_classes=1), ValueError, r"num_classes must be at least 2"),
        (dict(name="gaussian", noise=-1.0), ValueError, r"noise must be non-negative"),
        (dict(name="gaussian", separation=float("nan")), ValueError, r"separation must be finite, got nan"),
        (dict(name="gaussian", noise="1"), TypeError, r"noise must be a real number"),
        (dict(name="fashion-mnist", split="validation"), ValueError, r"split must be 'train' or 'test'"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        data.load(**kwargs)


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="torchvision is installed")
@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_torchvision_datasets_need_torchvision(name):
    with pytest.raises(ImportError, match=rf"load\('{name}'\) needs torchvision.*pip install torchvision"):
        data.load(name)


@needs_fashion
def test_a_class_selection_keeps_those_classes_relabelled_in_order():
    full_x, full_y = data.load("fashion-mnist", "test", flatten=True)
    x, y = data.load("fashion-mnist", "test", classes=[8, 0, 1], flatten=True)
    for new, old in enumerate([8, 0, 1]):
        np.testing.assert_array_equal(x[y == new].numpy(), full_x[full_y == old].numpy())
    sub_x, sub_y = data.load("fashion-mnist", "test", per_class=7, classes=[8, 0, 1])
    assert np.bincount(sub_y.numpy()).tolist() == [7, 7, 7]
    with pytest.raises(ValueError, match=r"classes \[10\] do not exist"):
        data.load("fashion-mnist", classes=[0, 10])
    with pytest.raises(ValueError, match="at least two distinct"):
        data.load("fashion-mnist", classes=[3])


# ----------------------------------------------------------------------------------------------
# Imbalanced subsets
# ----------------------------------------------------------------------------------------------


def test_per_class_counts_give_an_imbalanced_subset_deterministic_for_a_seed():
    counts = [30, 25, 20, 15, 10, 5, 4, 3, 2, 1]
    x, y = data.load("digits", "train", per_class=counts, seed=3, flatten=True)
    assert torch.bincount(y).tolist() == counts
    again = data.load("digits", "train", per_class=counts, seed=3, flatten=True)
    assert torch.equal(x, again[0]) and torch.equal(y, again[1])
    other = data.load("digits", "train", per_class=counts, seed=4, flatten=True)
    assert not torch.equal(x, other[0])


def test_a_class_keeps_its_samples_when_another_class_count_changes():
    a_x, a_y = data.load("digits", "train", per_class=[10] * 10, seed=0, flatten=True)
    b_x, b_y = data.load("digits", "train", per_class=[10] * 9 + [3], seed=0, flatten=True)
    for c in range(9):
        assert torch.equal(a_x[a_y == c], b_x[b_y == c])
    # the last class's three are among its ten
    ten = {tuple(r.tolist()) for r in a_x[a_y == 9]}
    assert all(tuple(r.tolist()) in ten for r in b_x[b_y == 9])


def test_per_class_counts_follow_a_class_selection_and_the_gaussian_mixture():
    x, y = data.load("digits", "train", per_class=[12, 3], classes=[7, 2], flatten=True)
    assert torch.bincount(y).tolist() == [12, 3]
    x, y = data.load("gaussian", per_class=[5, 1, 3], num_classes=3, dim=4)
    assert torch.bincount(y).tolist() == [5, 1, 3]


@pytest.mark.parametrize(
    ("per_class", "error", "match"),
    [
        ([10] * 9, ValueError, "per_class has 9 counts but the data have 10 classes"),
        ([10] * 9 + [0], ValueError, "per_class entries must be at least 1"),
        ([10] * 9 + [2.5], TypeError, "per_class entries must be an integer"),
        ([], ValueError, "per_class must hold one count per class"),
        ([10] * 9 + [10_000], ValueError, r"per_class asks for 10000 samples of class 9"),
    ],
)
def test_bad_per_class_counts_name_the_argument(per_class, error, match):
    with pytest.raises(error, match=match):
        data.load("digits", "train", per_class=per_class, flatten=True)
