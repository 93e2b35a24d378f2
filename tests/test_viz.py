"""ncedu.viz draws what the metrics say: panels, scales, markers, geometry, animation frames, GIF export."""

from __future__ import annotations

import itertools
import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import animation  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

import ncedu  # noqa: E402
from ncedu import viz  # noqa: E402
from ncedu.history import History  # noqa: E402

torch.set_num_threads(1)

EPOCHS = (1, 2, 3, 5, 8, 13, 21, 34)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def etf_means(C: int, p: int, seed: int = 0) -> np.ndarray:
    """Class means forming an exact simplex ETF (rows of norm 1, cosines -1/(C-1)), randomly rotated in R^p."""
    return ncedu.simplex_etf(C, p, seed=seed)


def make_history(
    C: int = 3,
    p: int = 6,
    per_class: int = 5,
    epochs=EPOCHS,
    train_acc=None,
    config=None,
    rotate_each_epoch: bool = False,
    seed: int = 0,
) -> History:
    """A synthetic run: means drift onto a simplex ETF and samples shrink onto them; metrics from ncedu.measure."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(C), per_class)
    target = 3.0 * etf_means(C, p, seed=seed)
    start = rng.standard_normal((C, p))
    offsets = rng.standard_normal((labels.size, p))
    h = History(config or {"num_classes": C}, sample_labels=labels, class_counts=np.full(C, per_class))
    for k, epoch in enumerate(epochs):
        t = k / max(len(epochs) - 1, 1)
        means = (1 - t) * start + t * target
        features = means[labels] + (1.0 - 0.9 * t) * offsets
        features -= features.mean(axis=0) - 0.5  # a global mean away from the origin
        centred_means = features.reshape(C, per_class, p).mean(axis=1) - features.mean(axis=0)
        W = 0.3 * centred_means + (1 - t) * rng.standard_normal((C, p))
        if rotate_each_epoch:
            Q = ncedu.geometry.random_orthogonal(p, seed=seed + 100 + k)
            features, W = features @ Q.T, W @ Q.T
        m = ncedu.measure(features, labels, W, np.zeros(C), num_classes=C)
        acc = (1.0 if t > 0.5 else 0.8) if train_acc is None else train_acc[k]
        h.append(epoch=epoch, train_acc=acc, **m.as_dict(), class_means=m.class_means, W=W, b=np.zeros(C),
                 sample_features=features)
    return h


def curve_lines(fig):
    return [line for ax in fig.axes for line in ax.lines if line.get_gid() == viz.GID_CURVE]


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.axison]


def artist(ax, gid):
    found = [a for a in ax.get_children() if a.get_gid() == gid]
    assert len(found) == 1, f"expected one artist with gid {gid}, found {len(found)}"
    return found[0]


# ---------------------------------------------------------------------------------------------
# plot_collapse
# ---------------------------------------------------------------------------------------------


def test_plot_collapse_has_one_panel_per_metric_with_log_epoch_axes_and_log_nc1():
    fig = viz.plot_collapse(make_history())
    axes = visible_axes(fig)
    titles = [ax.get_title() for ax in axes]
    assert len(axes) == 7
    for word, title in zip(["Training error", "NC1", "NC2", "NC2", "NC2", "NC3", "NC4"], titles):
        assert word in title
    assert all(ax.get_xscale() == "log" for ax in axes)
    assert all("epoch" in ax.get_xlabel() for ax in axes)
    assert all(ax.get_ylabel() for ax in axes)
    scales = {title: ax.get_yscale() for title, ax in zip(titles, axes)}
    assert scales.pop(titles[1]) == "log"
    assert set(scales.values()) == {"linear"}


def test_plot_collapse_curves_are_the_recorded_metrics():
    h = make_history()
    axes = visible_axes(viz.plot_collapse(h))
    error = axes[0].lines[0]
    np.testing.assert_array_equal(error.get_xdata(), h["epoch"])
    np.testing.assert_allclose(error.get_ydata(), [1.0 - a for a in h["train_acc"]])
    nc1 = [line for line in axes[1].lines if line.get_gid() == viz.GID_CURVE]
    assert len(nc1) == 1
    np.testing.assert_allclose(nc1[0].get_ydata(), h["nc1"])
    equinorm = [line.get_ydata() for line in axes[2].lines if line.get_gid() == viz.GID_CURVE]
    np.testing.assert_allclose(equinorm, [h["nc2_equinorm_means"], h["nc2_equinorm_classifiers"]])


@pytest.mark.parametrize("runs", [1, 3])
def test_plot_collapse_draws_ten_curves_per_run(runs):
    histories = [make_history(seed=s, config={"weight_decay": 10.0**-s}) for s in range(runs)]
    fig = viz.plot_collapse(histories if runs > 1 else histories[0])
    assert len(curve_lines(fig)) == 10 * runs
    colours = {line.get_color() for line in curve_lines(fig)}
    assert len(colours) == runs  # one colour per run


def test_terminal_phase_marker_is_at_the_first_epoch_with_zero_training_error():
    acc = [0.5, 0.9, 0.99, 1.0, 0.995, 1.0, 1.0, 1.0]
    h = make_history(train_acc=acc)
    first_zero = next(e for e, a in zip(EPOCHS, acc) if 1.0 - a == 0.0)
    fig = viz.plot_collapse(h)
    for ax in visible_axes(fig):
        markers = [line for line in ax.lines if line.get_gid() == viz.GID_TERMINAL]
        assert len(markers) == 1
        assert list(markers[0].get_xdata()) == [first_zero, first_zero]
        assert markers[0].get_linestyle() == "--"
    assert any(str(first_zero) in text.get_text() for text in visible_axes(fig)[0].texts)


def test_no_terminal_phase_marker_when_training_error_never_reaches_zero():
    fig = viz.plot_collapse(make_history(train_acc=[0.5] * len(EPOCHS)))
    assert not [line for ax in fig.axes for line in ax.lines if line.get_gid() == viz.GID_TERMINAL]


def legend_texts(fig):
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_run_labels_ignore_where_a_run_was_computed():
    a = make_history(config={"num_classes": 3, "weight_decay": 5e-3,
                             "provenance": {"torch": "2.13.0", "device": "cpu", "threads": 2}})
    b = make_history(config={"num_classes": 3, "weight_decay": 5e-4}, seed=1)  # an older run, no provenance
    assert viz.run_labels([a, b]) == ["weight decay 0.005", "weight decay 0.0005"]


def test_learning_rate_drops_recorded_by_train_are_marked_in_every_panel():
    # milestones as ncedu.train records them; 40 lies beyond the last measured epoch (34) and is not drawn
    h = make_history(config={"num_classes": 3, "lr_milestones": [10, 20, 40], "lr_decay": 0.1})
    fig = viz.plot_collapse(h)
    for ax in visible_axes(fig):
        drops = [line for line in ax.lines if line.get_gid() == viz.GID_LR_DROP]
        assert sorted(line.get_xdata()[0] for line in drops) == [10, 20]
    assert "learning-rate drop (×0.1)" in legend_texts(fig)
    # overlaid runs with different schedules: the union of their drops
    other = make_history(config={"num_classes": 3, "lr_milestones": [5], "lr_decay": 0.5}, seed=1)
    fig = viz.plot_collapse([h, other], labels=["a", "b"])
    drops = [line for line in visible_axes(fig)[0].lines if line.get_gid() == viz.GID_LR_DROP]
    assert sorted(line.get_xdata()[0] for line in drops) == [5, 10, 20]
    assert "learning-rate drop" in legend_texts(fig)  # no single factor to name
    # a run without a recorded schedule gets no drop lines and no legend entry
    fig = viz.plot_collapse(make_history())
    assert not [line for ax in fig.axes for line in ax.lines if line.get_gid() == viz.GID_LR_DROP]
    assert not any("learning-rate" in t for t in legend_texts(fig))


def test_overlaid_runs_are_labelled_by_the_settings_that_differ():
    a = make_history(config={"experiment": {"dataset": "gaussian", "weight_decay": 5e-4, "width": 16}})
    b = make_history(seed=1, config={"experiment": {"dataset": "gaussian", "weight_decay": 5e-3, "width": 16}})
    texts = legend_texts(viz.plot_collapse([a, b]))
    assert "weight decay 0.0005" in texts and "weight decay 0.005" in texts
    assert not any("width" in t or "dataset" in t for t in texts)  # equal settings are not repeated


def test_overlaid_runs_use_given_labels():
    texts = legend_texts(viz.plot_collapse([make_history(), make_history(seed=1)], labels=["CE", "MSE"]))
    assert "CE" in texts and "MSE" in texts


def test_runs_with_identical_configs_are_numbered():
    assert viz.run_labels([make_history(), make_history(seed=1)]) == ["run 1", "run 2"]


def test_plot_collapse_rejects_an_empty_history():
    with pytest.raises(ValueError, match="empty"):
        viz.plot_collapse(History())


def test_plot_collapse_rejects_a_non_history():
    with pytest.raises(ValueError, match="ncedu.History"):
        viz.plot_collapse({"nc1": [1, 2]})
    with pytest.raises(TypeError, match="ncedu.History"):
        viz.plot_collapse([make_history(), "not a history"])


def test_plot_collapse_names_a_missing_field():
    h = History({"num_classes": 3})
    for e in (1, 2):
        h.append(epoch=e, train_acc=0.5, nc1=1.0, nc2_equinorm_means=0.1, nc2_equinorm_classifiers=0.1,
                 nc2_equiangular_means=0.1, nc2_equiangular_classifiers=0.1, nc2_maxangle_means=0.1,
                 nc2_maxangle_classifiers=0.1, nc4=0.0)  # no nc3
    with pytest.raises(ValueError, match="'nc3'"):
        viz.plot_collapse(h)


def test_overlaid_runs_must_have_the_same_number_of_classes():
    with pytest.raises(ValueError, match="same number of classes.*\\[3, 4\\]"):
        viz.plot_collapse([make_history(C=3), make_history(C=4)])


def test_labels_must_match_the_runs():
    with pytest.raises(ValueError, match="labels has 1 entries but 2 runs"):
        viz.plot_collapse([make_history(), make_history()], labels=["only one"])


# ---------------------------------------------------------------------------------------------
# Geometry at one epoch
# ---------------------------------------------------------------------------------------------


def independent_cosines(means: np.ndarray) -> np.ndarray:
    C = means.shape[0]
    centre = sum(means[c] for c in range(C)) / C
    G = np.empty((C, C))
    for a, b in itertools.product(range(C), repeat=2):
        u, v = means[a] - centre, means[b] - centre
        G[a, b] = np.dot(u, v) / np.sqrt(np.dot(u, u) * np.dot(v, v))
    return G


@pytest.mark.parametrize("epoch", [None, 5])
def test_gram_panel_shows_the_cosines_of_the_centred_means_beside_the_etf(epoch):
    h = make_history(C=4)
    fig = viz.plot_gram(h, epoch=epoch)
    left, right = [ax for ax in fig.axes if ax.images]
    k = list(h["epoch"]).index(epoch) if epoch is not None else len(h) - 1
    gram = left.images[0]
    np.testing.assert_allclose(gram.get_array(), independent_cosines(h["class_means"][k]), atol=1e-12)
    etf = right.images[0]
    np.testing.assert_allclose(etf.get_array(), np.where(np.eye(4) == 1, 1.0, -1.0 / 3.0))
    assert gram.get_clim() == etf.get_clim() == (-1, 1)
    assert str(h["epoch"][k]) in left.get_title()


def test_geometry_views_reject_an_epoch_that_was_not_measured():
    h = make_history()
    for plot in (viz.plot_gram, viz.plot_projection, viz.plot_spectra):
        with pytest.raises(ValueError, match="epoch 4 was not measured; measured epochs: 1, 2, 3, 5"):
            plot(h, epoch=4)


def test_geometry_views_name_the_missing_arrays():
    h = History({"num_classes": 3})
    h.append(epoch=1, train_acc=0.5, nc1=1.0)
    with pytest.raises(ValueError, match="class_means"):
        viz.plot_gram(h)
    with pytest.raises(ValueError, match="sample_features"):
        viz.plot_projection(h)
    with pytest.raises(ValueError, match="empty"):
        viz.plot_projection(History())


def pairwise_distances(points: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(points[a] - points[b]) for a, b in itertools.combinations(range(len(points)), 2)])


def etf_history(C: int, p: int) -> History:
    """Exact neural collapse: samples on their means, means a simplex ETF (random rotation), W = M."""
    labels = np.repeat(np.arange(C), 3)
    means = 2.0 * etf_means(C, p, seed=1) + 1.0
    h = History({"num_classes": C}, sample_labels=labels)
    for epoch in (1, 2):
        m = ncedu.measure(means[labels], labels, means - means.mean(0), np.zeros(C), num_classes=C)
        h.append(epoch=epoch, train_acc=1.0, **m.as_dict(), class_means=means, W=means - means.mean(0),
                 b=np.zeros(C), sample_features=means[labels])
    return h


def test_projection_of_a_simplex_etf_puts_the_means_on_a_regular_triangle():
    fig = viz.plot_projection(etf_history(3, 7))
    ax = fig.axes[0]
    means = artist(ax, viz.GID_MEANS).get_offsets()
    d = pairwise_distances(np.asarray(means))
    np.testing.assert_allclose(d, d[0], rtol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0, rtol=1e-9)  # unit average norm
    np.testing.assert_allclose(means[0], [0.0, 1.0], atol=1e-9)  # the last epoch is turned: class 0 on top
    arrows = artist(ax, viz.GID_CLASSIFIERS)
    np.testing.assert_allclose(np.stack([arrows.U, arrows.V], axis=1), means, atol=1e-9)  # NC3: w_c ends on mu_c
    samples = artist(ax, viz.GID_SAMPLES).get_offsets()
    np.testing.assert_allclose(samples, np.repeat(means, 3, axis=0), atol=1e-6)  # (features are stored as float32)
    assert ax.get_xscale() == "linear" and ax.get_aspect() == 1.0
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_projection_on_3d_axes_puts_four_etf_means_on_a_regular_tetrahedron():
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    assert viz.plot_projection(etf_history(4, 6), ax=ax) is fig
    means = np.stack(artist(ax, viz.GID_MEANS)._offsets3d, axis=1)
    d = pairwise_distances(means)
    np.testing.assert_allclose(d, d[0], rtol=1e-9)


def test_projection_colours_samples_by_class_with_a_fixed_colormap():
    h = make_history(C=4)
    ax = viz.plot_projection(h).axes[0]
    colours = matplotlib.colormaps["tab10"].colors
    faces = artist(ax, viz.GID_SAMPLES).get_facecolors()[:, :3]
    np.testing.assert_allclose(faces, np.asarray(colours)[h.sample_labels], atol=1e-12)
    np.testing.assert_allclose(artist(ax, viz.GID_MEANS).get_facecolors()[:, :3], np.asarray(colours)[:4])


def test_projection_coordinates_are_the_centred_features_in_the_plane_of_the_means():
    """Up to a rotation of the plane, the dots are (h_i - mu_bar) projected on span(M), over avg ||mu_c - mu_bar||."""
    h = make_history(C=3, p=8)
    ax = viz.plot_projection(h, epoch=8).axes[0]
    k = list(h["epoch"]).index(8)
    means, H = h["class_means"][k], h["sample_features"][k].astype(float)
    M = means - means.mean(axis=0)
    Q, _ = np.linalg.qr(M[:2].T)  # an orthonormal basis of the plane (C = 3: two means span it)
    scale = np.mean([np.linalg.norm(row) for row in M])
    expected = (H - means.mean(axis=0)) @ Q / scale
    shown = np.asarray(artist(ax, viz.GID_SAMPLES).get_offsets())
    np.testing.assert_allclose(shown @ shown.T, expected @ expected.T, atol=1e-5)


def test_spectra_are_the_eigenvalues_of_the_sampled_within_and_the_between_class_covariances():
    h = make_history(C=3, p=6, per_class=6)
    fig = viz.plot_spectra(h, epoch=5)
    ax = fig.axes[0]
    k = list(h["epoch"]).index(5)
    means, H, y = h["class_means"][k], h["sample_features"][k].astype(float), h.sample_labels
    R = H - means[y]
    sigma_w = sum(np.outer(r, r) for r in R) / len(R)
    M = means - means.mean(axis=0)
    sigma_b = sum(np.outer(m, m) for m in M) / len(M)
    within, between = ax.lines
    np.testing.assert_allclose(within.get_ydata(), np.sort(np.linalg.eigvalsh(sigma_w))[::-1], rtol=1e-5)
    np.testing.assert_allclose(between.get_ydata(), np.sort(np.linalg.eigvalsh(sigma_b))[::-1][:2], rtol=1e-9)
    assert ax.get_yscale() == "log"
    assert "sampled" in ax.get_title() and "Σ_W" in ax.get_title()
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend()
    # drawn into a given panel: the same lines there, and no new figure
    fig2, (left, right) = plt.subplots(1, 2)
    before = plt.get_fignums()
    assert viz.plot_spectra(h, epoch=5, ax=right) is fig2 and plt.get_fignums() == before
    np.testing.assert_allclose(right.lines[0].get_ydata(), within.get_ydata())
    assert not left.lines


# ---------------------------------------------------------------------------------------------
# Animation and GIF
# ---------------------------------------------------------------------------------------------


class RecordingWriter(animation.AbstractMovieWriter):
    """A movie writer that keeps, per grabbed frame, the data of the projection's artists."""

    def __init__(self):
        super().__init__(fps=5)
        self.frames = []

    def setup(self, fig, outfile, dpi=None):
        super().setup(fig, outfile, dpi)

    def grab_frame(self, **savefig_kwargs):
        ax = self.fig.axes[0]
        arrows = artist(ax, viz.GID_CLASSIFIERS)
        self.frames.append(
            dict(
                samples=np.array(artist(ax, viz.GID_SAMPLES).get_offsets()),
                means=np.array(artist(ax, viz.GID_MEANS).get_offsets()),
                arrows=np.stack([arrows.U, arrows.V], axis=1).copy(),
                limits=(ax.get_xlim(), ax.get_ylim()),
                title=ax.get_title(),
            )
        )

    def finish(self):
        pass


def record(anim):
    writer = RecordingWriter()
    anim.save("unused", writer=writer)
    return writer.frames


def test_animation_has_one_frame_per_measured_epoch_and_every_frame_moves():
    h = make_history(C=3)
    anim = viz.animate(h, fps=5)
    assert isinstance(anim, animation.FuncAnimation)
    frames = record(anim)
    assert len(frames) == len(h)
    for before, after in zip(frames, frames[1:]):
        assert not np.allclose(before["samples"], after["samples"])
        assert not np.allclose(before["means"], after["means"])
    assert len({f["limits"] for f in frames}) == 1  # fixed axis limits
    assert [f"epoch {e}" in f["title"] for f, e in zip(frames, h["epoch"])] == [True] * len(h)


def test_animation_frame_equals_the_projection_plot_of_that_epoch():
    h = make_history(C=4)
    frames = record(viz.animate(h))
    ax = viz.plot_projection(h, epoch=int(h["epoch"][3])).axes[0]
    np.testing.assert_allclose(frames[3]["means"], artist(ax, viz.GID_MEANS).get_offsets())


def test_animation_does_not_spin_when_the_features_only_rotate_in_feature_space():
    """Features rotated by a different random orthogonal matrix each epoch look the same in the view.

    The means form an exact simplex ETF, so their principal directions are degenerate and an
    SVD may return any rotation of the plane: only the alignment between epochs keeps it still.
    """
    labels = np.repeat(np.arange(3), 4)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((12, 5))
    noise -= np.stack([noise[labels == c].mean(axis=0) for c in range(3)])[labels]  # class means stay exact
    features = 0.2 * noise + 2 * etf_means(3, 5)[labels]
    W = rng.standard_normal((3, 5))
    h = History({"num_classes": 3}, sample_labels=labels)
    for k in range(6):
        Q = ncedu.geometry.random_orthogonal(5, seed=k)
        F, V = features @ Q.T, W @ Q.T
        m = ncedu.measure(F, labels, V, np.zeros(3), num_classes=3)
        h.append(epoch=k + 1, train_acc=1.0, **m.as_dict(), class_means=m.class_means, W=V, b=np.zeros(3),
                 sample_features=F)
    frames = record(viz.animate(h))
    for f in frames[1:]:
        np.testing.assert_allclose(f["means"], frames[0]["means"], atol=1e-6)
        np.testing.assert_allclose(f["samples"], frames[0]["samples"], atol=1e-5)


def test_animate_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        viz.animate(History())
    with pytest.raises(ValueError, match="fps"):
        viz.animate(make_history(), fps=0)


def test_save_gif_writes_a_gif_with_one_frame_per_epoch(tmp_path):
    from PIL import Image

    h = make_history(epochs=(1, 2, 4))
    path = viz.save_gif(viz.animate(h), tmp_path / "sub" / "collapse.gif")
    assert path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    with Image.open(path) as image:
        assert image.n_frames == 3
    assert os.listdir(path.parent) == ["collapse.gif"]  # no temporary file left


def test_save_gif_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "collapse.gif"
    target.write_bytes(b"old")

    def fail(self):
        raise RuntimeError("disk full")

    monkeypatch.setattr(animation.PillowWriter, "finish", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        viz.save_gif(viz.animate(make_history(epochs=(1, 2))), target)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["collapse.gif"]


def test_save_gif_needs_a_gif_path_and_an_animation(tmp_path):
    anim = viz.animate(make_history(epochs=(1, 2)))
    with pytest.raises(ValueError, match=r"\.gif"):
        viz.save_gif(anim, tmp_path / "x.png")
    assert not list(tmp_path.iterdir())
    record(anim)  # render it, as a user would next
    with pytest.raises(ValueError, match="Animation"):
        viz.save_gif("not an animation", tmp_path / "x.gif")


def test_runs_on_a_subset_of_classes_are_labelled_with_those_class_names():
    from ncedu.history import History
    from ncedu._runinfo import class_names_of as _class_names

    h = History(config={"experiment": {"dataset": "fashion-mnist", "classes": [0, 1, 8]}})
    assert _class_names(h, 3) == ("T-shirt/top", "Trouser", "Bag")
    assert _class_names(History(config={"dataset": "fashion-mnist"}), 10)[8] == "Bag"
    assert _class_names(History(config={}), 2) == ("class 0", "class 1")


# ---------------------------------------------------------------------------------------------
# Decision regions (NC4 in a picture)
# ---------------------------------------------------------------------------------------------


def test_decision_maps_are_the_network_and_nearest_centre_rules_on_the_plane_of_the_means():
    h = make_history(C=4, p=6)
    mu, W = h["class_means"][-1], h["W"][-1]
    b = np.random.default_rng(0).standard_normal(4)
    h._rows[-1]["b"] = b
    coords, network, ncc, basis, scale, centre = viz.decision_maps(h, extent=2.0, resolution=41)
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-12)
    for iy, ix in [(0, 0), (7, 33), (40, 12), (20, 20)]:  # brute force at a few grid points
        x = centre + scale * (coords[ix] * basis[0] + coords[iy] * basis[1])
        assert network[iy, ix] == np.argmax(W @ x + b)
        assert ncc[iy, ix] == np.argmin(np.linalg.norm(mu - x, axis=1))


def test_every_view_puts_a_class_in_the_same_place_of_one_plane():
    """The projection, the decision regions and the scrubber's panels share one basis, one centre, one unit."""
    h = make_history(C=3, p=8, rotate_each_epoch=True)
    for epoch in (int(h["epoch"][0]), int(h["epoch"][-1])):
        projected = artist(viz.plot_projection(h, epoch=epoch).axes[0], viz.GID_MEANS).get_offsets()
        _, _, _, basis, scale, centre = viz.decision_maps(h, epoch)
        regions = (h["class_means"][list(h["epoch"]).index(epoch)] - centre) @ basis.T / scale
        np.testing.assert_allclose(projected, regions, atol=1e-9)
        ax = viz.plot_decision_regions(h, epoch=epoch).axes[0]
        big = [c for c in ax.collections if hasattr(c, "get_sizes") and c.get_sizes().size and c.get_sizes()[0] > 100][0]
        np.testing.assert_allclose(big.get_offsets(), regions, atol=1e-9)


def test_views_centre_at_the_sample_mean_of_an_imbalanced_run():
    h = make_history(C=3, p=6)
    counts = np.array([5, 50, 20])
    h.class_counts = counts
    mu = h["class_means"][-1]
    expected = counts @ mu / counts.sum()
    np.testing.assert_allclose(h.global_mean()[-1], expected, atol=1e-12)
    assert not np.allclose(expected, mu.mean(axis=0))
    _, _, _, basis, scale, centre = viz.decision_maps(h)
    np.testing.assert_allclose(centre, expected, atol=1e-12)
    G = artist(viz.plot_gram(h).axes[0], viz.GID_GRAM).get_array()
    M = mu - expected
    U = M / np.linalg.norm(M, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(G), U @ U.T, atol=1e-12)


def test_a_self_dual_classifier_with_the_matching_bias_draws_no_difference():
    # NCC as a linear rule: argmin ||h - mu_c||^2 = argmax (mu_c . h - ||mu_c||^2 / 2), so W = mu, b = -||mu_c||^2/2
    C, p = 3, 5
    rng = np.random.default_rng(1)
    mu = 2.0 * etf_means(C, p) + 1.5
    labels = np.repeat(np.arange(C), 4)
    h = History({"num_classes": C}, sample_labels=labels, class_counts=np.full(C, 4))
    features = mu[labels] + 0.1 * rng.standard_normal((labels.size, p))
    h.append(epoch=1, train_acc=0.5, class_means=mu, W=rng.standard_normal((C, p)), b=rng.standard_normal(C),
             sample_features=features)
    h.append(epoch=2, train_acc=1.0, class_means=mu, W=mu, b=-0.5 * (mu * mu).sum(axis=1), sample_features=features)
    ax = viz.plot_decision_regions(h, epoch=2).axes[0]
    assert "differ on 0.0% of the square" in ax.get_title()
    image = next(im for im in ax.images if im.get_gid() == viz.GID_REGIONS)
    _, network, ncc, *_ = viz.decision_maps(h, epoch=2)
    np.testing.assert_array_equal(np.asarray(image.get_array()), network)
    np.testing.assert_array_equal(network, ncc)
    assert len(np.unique(network)) == C  # all three regions are in the square
    # a random classifier differs on a visible part of the square, and the title says so
    assert "differ on 0.0%" not in viz.plot_decision_regions(h, epoch=1).axes[0].get_title()


def test_decision_regions_draw_into_a_given_axes_and_refuse_a_bad_extent():
    h = make_history()
    fig, (left, right) = plt.subplots(1, 2)
    assert viz.plot_decision_regions(h, ax=right) is fig and right.images and not left.images
    with pytest.raises(ValueError, match="extent must be a positive number"):
        viz.plot_decision_regions(h, extent=0.0)
