// Document view: selecting text offers "查找相似" for the selection; Esc hides it.
(function () {
  var form = document.getElementById("selection-form");
  if (!form) return;
  var field = form.querySelector("input[name=text]");
  document.addEventListener("mouseup", function () {
    var text = String(window.getSelection() || "").trim();
    if (text.length >= 4) { field.value = text.slice(0, 5000); form.hidden = false; }
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") form.hidden = true; });
})();
