// tamtam questionnaire form: hides the questions that do not apply, as answers are given.
// Progressive enhancement: without this script every question shows, with a line saying
// when it applies, and the server checks the answers all the same. A hidden question's
// controls are disabled, so that a browser does not send what the person can no longer
// see. The rule is the server's: a question applies when each of its conditions holds,
// and a condition holds when the question it names applies and its answer is one of the
// listed codes.
(function () {
  "use strict";
  var form = document.querySelector("form.questionnaire");
  if (!form) { return; }
  var items = Array.prototype.slice.call(form.querySelectorAll(".item[data-item]"));

  function answers(code, enabledOnly) {
    var out = [];
    var controls = form.querySelectorAll("[name='" + code.replace(/'/g, "") + "']");
    for (var i = 0; i < controls.length; i++) {
      var c = controls[i];
      if (c.disabled && enabledOnly) { continue; }
      if ((c.type === "radio" || c.type === "checkbox") && !c.checked) { continue; }
      if (c.value !== "") { out.push(c.value); }
    }
    return out;
  }

  function update() {
    var applies = {};
    items.forEach(function (el) {
      var code = el.getAttribute("data-item");
      var when = el.getAttribute("data-when");
      var ok = true;
      if (when) {
        var conds = JSON.parse(when);
        for (var i = 0; i < conds.length && ok; i++) {
          var cond = conds[i];
          if (!applies[cond.item]) { ok = false; break; }
          var given = answers(cond.item, true);
          ok = given.some(function (v) { return cond["in"].indexOf(v) >= 0; });
        }
      }
      applies[code] = ok;
      // Set every time, not only on a change: a page restored by the browser's back
      // button may come back with controls in another state.
      el.hidden = !ok;
      var controls = el.querySelectorAll("input, select, textarea");
      for (var j = 0; j < controls.length; j++) { controls[j].disabled = !ok; }
    });
  }

  // The line "only if …" is for readers without the script: here the question simply
  // appears when it applies.
  var notes = form.querySelectorAll(".only-if");
  for (var i = 0; i < notes.length; i++) { notes[i].hidden = true; }
  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();

  // A double click sends the form once (the server would store it once anyway). Coming
  // back to the page (the back button) makes the button usable again.
  var buttons = form.querySelectorAll("button[type=submit]");
  function enable(on) { for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = !on; } }
  form.addEventListener("submit", function () { setTimeout(function () { enable(false); }, 0); });
  window.addEventListener("pageshow", function () { enable(true); update(); });
  var summary = document.getElementById("error-summary");
  if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }
})();
