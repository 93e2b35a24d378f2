"""ncedu.widgets: the live epoch scrubber redraws the chosen epoch; the static one embeds every epoch, small."""

from __future__ import annotations

import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("ipywidgets")
pytest.importorskip("IPython")

import ipywidgets  # noqa: E402
from IPython.display import HTML  # noqa: E402

from ncedu import viz, widgets  # noqa: E402
from ncedu.history import History  # noqa: E402

from .test_viz import make_history  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def live_kernel_mode(monkeypatch):
    monkeypatch.delenv(widgets.STATIC_ENV_VAR, raising=False)


def by_gid(ax, gid):
    (found,) = [a for a in ax.get_children() if a.get_gid() == gid]
    return found


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_scrubber_is_a_vbox_of_text_buttons_slider_and_image_linked_in_the_kernel():
    h = make_history()
    box = widgets.epoch_scrubber(h)
    assert isinstance(box, ipywidgets.VBox)
    controls, image = box.children
    assert isinstance(image, ipywidgets.Image) and box.image is image
    back, play, forward, slider = controls.children
    assert isinstance(slider, ipywidgets.SelectionSlider) and box.slider is slider
    assert isinstance(play, ipywidgets.ToggleButton) and box.play_button is play
    # labelled with text: Colab loads no icon font, so icon-only buttons would be blank there
    for button in (back, play, forward):
        assert button.description.strip() and not getattr(button, "icon", "")
    assert not any(isinstance(w, ipywidgets.Play) for w in controls.children)
    assert [value for _, value in slider.options] == list(h["epoch"])  # one position per measured epoch
    assert [label for label, _ in slider.options] == [str(e) for e in h["epoch"]]
    assert slider.value == h["epoch"][0]  # starts at the beginning of training
    assert image.value == box.last_png and png_size(box.last_png)  # the first epoch shown is already drawn


def test_the_buttons_step_and_play_through_the_epochs_without_a_front_end():
    h = make_history()
    box = widgets.epoch_scrubber(h, fps=200)
    first = box.last_png
    box.forward.click()
    assert box.slider.index == 1 and box.view.index == 1 and box.image.value != first
    box.back.click()
    box.back.click()  # stops at the first epoch
    assert box.slider.index == 0 and box.image.value == first
    box.play_button.value = True  # what a click on "play" does
    assert box.play_button.description.endswith("pause")
    box.player.join(timeout=20)
    assert box.slider.index == len(h) - 1 and box.view.index == len(h) - 1  # played to the last epoch
    assert box.play_button.value is False and box.play_button.description.endswith("play")
    last = box.image.value
    box.play_button.value = True  # playing again from the end starts from the first epoch
    box.player.join(timeout=20)
    assert box.slider.index == len(h) - 1 and box.image.value == last


def make_layer_history(L: int = 6, C: int = 10, p: int = 12) -> History:
    """make_history's run with layers whose NC1 is exactly geometric at each epoch: a_e * rho_e ** l, l = 1..L."""
    base = make_history(C=C, p=p)
    rhos = np.linspace(1.3, 0.4, len(base))  # from fuzzier-with-depth to a fall by 0.4 per layer
    scales = np.geomspace(3.0, 0.8, len(base))
    h = History(base.config, sample_labels=base.sample_labels, class_counts=base.class_counts,
                layers=[f"body.{3 * k + 2}" for k in range(L)])
    for k, epoch in enumerate(base["epoch"]):
        nc1 = scales[k] * rhos[k] ** np.arange(1, L + 1)
        h.append(**base.at(int(epoch)), layer_nc1=nc1, layer_fuzziness=C * nc1)
    h.true_rhos, h.true_scales = rhos, scales
    return h


@pytest.mark.parametrize("view", sorted(widgets.VIEWS))
def test_every_view_draws_every_epoch_readably_on_the_page(view):
    from ncedu._layout import layout_problems

    h = make_layer_history() if view == "layers" else make_history(C=10, p=12)
    box = widgets.epoch_scrubber(h, view=view)
    pngs = set()
    for i in range(len(h)):
        box.slider.index = i
        pngs.add(box.last_png)
    assert len(pngs) == len(h)
    assert layout_problems(box.view.figure) == []


def test_the_decision_view_is_the_network_and_nearest_centre_rules_on_the_plane_the_others_show():
    h = make_history(C=3, p=8)
    box = widgets.epoch_scrubber(h, view="decisions")
    panel = box.view.panels["decisions"]
    k = len(h) - 1
    network, ncc = panel.decisions(k)
    # independently: lift each grid point of the aligned plane back to feature space
    f = box.frames
    means = h["class_means"][k]
    centre = means.mean(axis=0)
    g = panel.grid[:: 97]
    points = centre + f.scale[k] * g @ f.basis[k].T
    expected_net = (points @ h["W"][k].T + h["b"][k]).argmax(axis=1)
    expected_ncc = ((points[:, None, :] - means[None]) ** 2).sum(axis=2).argmin(axis=1)
    np.testing.assert_array_equal(network.ravel()[:: 97], expected_net)
    np.testing.assert_array_equal(ncc.ravel()[:: 97], expected_ncc)
    # the means drawn on the decision panel sit where the projection view puts them
    box.slider.index = k
    np.testing.assert_allclose(panel.means.get_offsets(), f.means[k])


def test_moving_the_slider_redraws_that_epochs_projection_gram_and_markers():
    h = make_history(C=3, p=8)
    box = widgets.epoch_scrubber(h)
    view = box.view
    projection, gram = view.panels["projection"].view, view.panels["gram"].view
    samples = by_gid(projection.ax, viz.GID_SAMPLES)
    before = np.array(samples.get_offsets())
    png_before = box.last_png

    box.slider.value = 5  # a measured epoch
    k = list(h["epoch"]).index(5)
    assert view.index == k
    shown = np.array(samples.get_offsets())
    assert not np.allclose(shown, before)
    # independently: centred features projected on span(M) over avg ||mu_c - mu_bar||, up to a rotation
    means, H = h["class_means"][k], h["sample_features"][k].astype(float)
    M = means - means.mean(axis=0)
    Q, _ = np.linalg.qr(M[:2].T)
    expected = (H - means.mean(axis=0)) @ Q / np.linalg.norm(M, axis=1).mean()
    np.testing.assert_allclose(shown @ shown.T, expected @ expected.T, atol=1e-5)
    norms = np.linalg.norm(M, axis=1)
    cosines = (M @ M.T) / np.outer(norms, norms)
    np.testing.assert_allclose(by_gid(gram.ax, viz.GID_GRAM).get_array(), cosines, atol=1e-12)
    x, y = view.panels["nc1"].markers["nc1"].get_data()
    assert (list(x), list(y)) == ([5], [h["nc1"][k]])
    assert view.panels["nc1"].cursor.get_xdata()[0] == 5
    assert "epoch 5" in projection.ax.get_title()
    assert box.last_png != png_before and png_size(box.last_png) == png_size(png_before)


def test_the_layers_view_shows_each_layers_nc1_against_depth_with_the_geometric_fit():
    h = make_layer_history(L=6)
    box = widgets.epoch_scrubber(h, view="layers")
    depth, curves = box.view.panels["layer_depth"], box.view.panels["layer_curves"]
    assert box.view.figure.legends == []  # no class legend: the view shows layers, not classes
    layers = np.arange(1, 7)
    for k in (0, 4, len(h) - 1):
        box.slider.index = k
        rho, a = h.true_rhos[k], h.true_scales[k]
        x, y = depth.profile.get_data()
        np.testing.assert_array_equal(x, layers)
        np.testing.assert_allclose(y, a * rho ** layers, rtol=1e-12)  # the shown epoch's NC1, layer by layer
        # the dashed line is the least-squares line of log NC1 against l: exact for an exact geometric profile
        np.testing.assert_allclose(depth.fitted.get_ydata(), a * rho ** layers, rtol=1e-9)
        assert f"epoch {h['epoch'][k]}:" in depth.title.get_text()
        assert f"ρ = {rho:.2f}" in depth.title.get_text()
        for j, marker in enumerate(curves.markers):
            mx, my = marker.get_data()
            assert list(mx) == [h["epoch"][k]] and np.isclose(my[0], a * rho ** (j + 1))
        assert curves.cursor.get_xdata()[0] == h["epoch"][k]
    assert depth.ax.get_yscale() == "log" and curves.ax.get_yscale() == "log"


def test_the_geometric_fit_is_the_least_squares_line_of_the_logarithms():
    from ncedu._panels import geometric_fit

    assert np.allclose(geometric_fit(5.0 * 0.5 ** np.arange(1, 9)), (0.5, 5.0))
    # by hand: log v = (0, log 4, 0) at l = 1, 2, 3 has slope 0 and intercept log(4) / 3
    rho, v0 = geometric_fit(np.array([1.0, 4.0, 1.0]))
    assert np.isclose(rho, 1.0) and np.isclose(v0, 4.0 ** (1 / 3))
    # non-positive and NaN values are left out of the fit; fewer than two usable values give NaN
    assert np.allclose(geometric_fit(np.array([2.0, np.nan, 0.5, 0.0])), (0.5, 4.0))
    assert all(np.isnan(geometric_fit(np.array([1.0, np.nan, -1.0]))))


def test_the_layers_view_of_a_run_without_layers_says_how_to_record_them():
    with pytest.raises(ValueError, match="record_layers"):
        widgets.epoch_scrubber(make_history(), view="layers")
    with pytest.raises(ValueError, match="record_layers"):
        widgets.static_scrubber(make_history(), view="layers")


def test_scrubber_image_equals_a_full_redraw_of_the_same_epoch():
    """The fast (blitted) update draws the same picture as drawing the whole figure from scratch."""
    from io import BytesIO

    from PIL import Image

    h = make_history(C=4)
    box = widgets.epoch_scrubber(h)
    box.slider.value = int(h["epoch"][2])
    fast = np.asarray(Image.open(BytesIO(box.last_png)).convert("RGB")).astype(int)
    buffer = BytesIO()
    box.view.figure.savefig(buffer, format="png")
    full = np.asarray(Image.open(BytesIO(buffer.getvalue())).convert("RGB")).astype(int)
    assert fast.shape == full.shape
    assert np.mean(np.abs(fast - full) > 8) < 0.002  # equal up to antialiasing of a few edge pixels


def test_scrubber_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        widgets.epoch_scrubber(History())
    with pytest.raises(ValueError, match="ncedu.History"):
        widgets.epoch_scrubber([1, 2, 3])
    with pytest.raises(ValueError, match="fps"):
        widgets.epoch_scrubber(make_history(), fps=-1)
    with pytest.raises(ValueError, match="view must be one of"):
        widgets.epoch_scrubber(make_history(), view="nc5")


def frame_count(html: str) -> int:
    return len(re.findall(r'frames\[\d+\] = "data:image/png;base64,', html))


def test_static_scrubber_embeds_a_js_slider_and_one_frame_per_epoch():
    h = make_history()
    page = widgets.static_scrubber(h)
    assert isinstance(page, HTML)
    assert 'type="range"' in page.data and "anim-slider" in page.data
    assert frame_count(page.data) == len(h)
    frames = re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]+)"', page.data)
    assert len(set(frames)) == len(h)  # every epoch looks different
    # self-contained: no stylesheet, script or font from elsewhere, no icon font needed
    assert not re.search(r'(href|src)="(https?:)?//', page.data)
    assert "fa fa-" not in page.data and "\u25b6" in page.data


def test_any_animation_becomes_an_offline_player():
    from ncedu import viz

    h = make_history()
    anim = viz.animate(h)
    raw = anim.to_jshtml()
    assert re.search(r'href="(https?:)?//[^"]*font-awesome', raw)  # what matplotlib's own player needs
    page = widgets.animation_html(anim)
    assert isinstance(page, HTML) and frame_count(page.data) == len(h)
    assert not re.search(r'(href|src)="(https?:)?//', page.data)
    assert "fa fa-" not in page.data and "\u25b6" in page.data
    with pytest.raises(TypeError, match="anim must be a matplotlib animation"):
        widgets.animation_html(h)


def test_book_build_environment_switches_the_scrubber_to_static_html(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV_VAR, "1")
    h = make_history(epochs=(1, 2, 3))
    page = widgets.epoch_scrubber(h)
    assert isinstance(page, HTML) and frame_count(page.data) == 3


def test_static_scrubber_of_fifty_epochs_and_ten_classes_stays_under_five_megabytes():
    h = make_history(C=10, p=32, per_class=20, epochs=tuple(range(1, 51)))
    page = widgets.static_scrubber(h)
    assert frame_count(page.data) == 50
    assert len(page.data.encode()) <= 5 * 1024 * 1024


def test_importing_ncedu_does_not_import_ipywidgets():
    code = "import sys, ncedu, ncedu.viz, ncedu.widgets; print('ipywidgets' in sys.modules, 'IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
