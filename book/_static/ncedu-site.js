/* The book's website on every screen (loaded on every page by book/_ext/ncedu_sphinx.py).
 *
 * 1. Sidebar buttons that work on phones. pydata-sphinx-theme 0.17 puts a .primary-toggle and a
 * .secondary-toggle in its navbar (hidden by sphinx-book-theme 1.3), before the buttons that
 * sphinx-book-theme shows in the article header. Both themes attach their click handlers to
 * document.querySelector(".primary-toggle"), the first, hidden one, so the visible buttons only
 * show a tooltip: on a phone the table of contents never opens, on a wide screen the sidebar
 * does not collapse (pydata/pydata-sphinx-theme#2451, executablebooks/sphinx-book-theme#917).
 * A click on any other toggle is forwarded to the first one, which does the right thing for
 * the screen width (a dialog on a phone, collapsing the sidebar on a wide screen). If a later
 * theme binds every toggle itself, the forwarded click still runs its handlers once: the
 * visible button's own handlers are stopped first. */
(function () {
  "use strict";

  function forwardToggles(selector) {
    var toggles = document.querySelectorAll(selector);
    if (toggles.length < 2) {
      return;
    }
    var bound = toggles[0];
    Array.prototype.slice.call(toggles, 1).forEach(function (toggle) {
      toggle.dataset.nceduForwardsTo = "first " + selector;
      toggle.addEventListener(
        "click",
        function (event) {
          event.preventDefault();
          event.stopImmediatePropagation();
          toggle.blur(); // dismiss the tooltip
          bound.click();
        },
        true
      );
    });
  }

  /* 2. Inline formulas wider than the column scroll instead of being cut off (see ncedu-site.css).
   * A formula is measured when MathJax has typeset it and whenever its box changes size (a
   * narrower window, a dropdown that opens). */
  var WIDE = "ncedu-math-scrolls";

  function markIfWide(span) {
    var math = span.querySelector("mjx-container mjx-math");
    if (!math) {
      return;
    }
    var box = span.getBoundingClientRect();
    if (box.width === 0) {
      return; // hidden (a closed dropdown): measured when it opens
    }
    var wide = math.getBoundingClientRect().right > box.right + 0.5;
    if (wide !== span.classList.contains(WIDE)) {
      span.classList.toggle(WIDE, wide);
    }
  }

  function watchInlineMath() {
    var spans = document.querySelectorAll(".bd-article span.math");
    if (!spans.length) {
      return;
    }
    var observer = "ResizeObserver" in window ? new ResizeObserver(function (entries) {
      entries.forEach(function (entry) { markIfWide(entry.target); });
    }) : null;
    spans.forEach(function (span) {
      markIfWide(span);
      if (observer) {
        observer.observe(span);
      }
    });
    window.addEventListener("resize", function () { spans.forEach(markIfWide); });
  }

  function whenMathIsTypeset(callback, triesLeft) {
    var mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) {
      mj.startup.promise.then(callback);
    } else if (triesLeft > 0) {
      window.setTimeout(function () { whenMathIsTypeset(callback, triesLeft - 1); }, 100);
    }
  }

  function init() {
    forwardToggles(".primary-toggle");
    forwardToggles(".secondary-toggle");
    if (document.querySelector(".bd-article span.math")) {
      whenMathIsTypeset(watchInlineMath, 300);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
