// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";
  // The sticky header's real height, so that the find bar, the TOC and jump targets sit just below it.
  var header = document.querySelector("header.top");
  var measure = function () {
    if (header && getComputedStyle(header).position === "sticky") {
      document.documentElement.style.setProperty("--top", header.offsetHeight + "px");
    } else {
      document.documentElement.style.removeProperty("--top");
    }
  };
  measure();
  window.addEventListener("resize", measure);

  var typing = function (el) { return el && (/^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable); };

  // Search: "本报告另有 N 个相关段落" loads that report's other relevant passages when opened.
  document.querySelectorAll("details.more-doc[data-src]").forEach(function (details) {
    details.addEventListener("toggle", function () {
      var body = details.querySelector(".more-body");
      if (!details.open || body.dataset.loaded) return;
      body.dataset.loaded = "1";
      body.textContent = "正在载入…";
      fetch(details.dataset.src).then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      }).then(function (html) { body.innerHTML = html; }, function () {
        body.textContent = "未能载入，请用下面的链接在原文中查看。";
        delete body.dataset.loaded;
      });
    });
  });

  // Document view: a selection (mouse, touch or keyboard) offers "查找相似"; S sends it, Esc hides it.
  var form = document.getElementById("selection-form");
  if (form) {
    var field = form.querySelector("input[name=text]");
    var size = form.querySelector(".selection-size");
    var dismissed = null;
    var selected = function () { return String(window.getSelection() || "").trim(); };
    var offer = function (force) {
      var text = selected();
      if (text.length >= 4 && (force || text !== dismissed)) {
        field.value = text.slice(0, 5000);
        size.textContent = "已选 " + Math.min(text.length, 5000) + " 字";
        form.hidden = false;
      } else if (!text) {
        form.hidden = true;
        dismissed = null;
      }
    };
    var timer = null;
    document.addEventListener("mouseup", function () { offer(true); });
    document.addEventListener("selectionchange", function () {  // touch and keyboard selections fire only this
      clearTimeout(timer);
      timer = setTimeout(function () { offer(false); }, 150);
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !form.hidden) { form.hidden = true; dismissed = selected(); }
      else if ((e.key === "s" || e.key === "S") && !e.ctrlKey && !e.metaKey && !e.altKey && !typing(e.target)
               && selected().length >= 4) {
        e.preventDefault();
        offer(true);
        form.submit();
      }
    });
  }

  // Document view: next / previous hit of the query, with "第 i / N 处".
  var text = document.getElementById("doc-text");
  var status = document.getElementById("hit-status");
  var marks = text ? text.querySelectorAll("mark[id^=hit-]") : [];
  if (marks.length && status) {
    var current = -1;
    var go = function (i, focus) {
      if (current >= 0) marks[current].classList.remove("current");
      current = (i + marks.length) % marks.length;
      var mark = marks[current];
      mark.classList.add("current");
      mark.scrollIntoView({block: "center"});
      if (history.replaceState) history.replaceState(null, "", "#" + mark.id);
      status.textContent = "第 " + (current + 1) + " / " + marks.length + " 处";
    };
    var prev = document.getElementById("hit-prev"), next = document.getElementById("hit-next");
    prev.addEventListener("click", function (e) { e.preventDefault(); go(current < 0 ? marks.length - 1 : current - 1); });
    next.addEventListener("click", function (e) { e.preventDefault(); go(current + 1); });
    document.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || (e.key !== "n" && e.key !== "N")) return;
      e.preventDefault();
      if (e.shiftKey || e.key === "N") go(current < 0 ? marks.length - 1 : current - 1); else go(current + 1);
    });
    var hash = /^#hit-(\d+)$/.exec(location.hash);
    if (hash && +hash[1] >= 1 && +hash[1] <= marks.length) go(+hash[1] - 1);
  }

  // Document view on a phone: choosing a heading in the table-of-contents drawer closes the drawer.
  var toc = document.getElementById("toc"), tocToggle = document.getElementById("toc-toggle");
  if (toc && tocToggle) {
    toc.addEventListener("click", function (e) { if (e.target.closest("a")) tocToggle.checked = false; });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && tocToggle.checked) { tocToggle.checked = false; tocToggle.focus(); }
    });
  }
})();
