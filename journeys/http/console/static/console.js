// The journeys console's only script: the journey map's counts and a customer's runs and timeline follow the runs
// without a reload, and the customer's forms post in the background. Every page works without it.
"use strict";

function every(selector, root) {
  return Array.prototype.slice.call((root || document).querySelectorAll(selector));
}

function setCount(element, attribute, value) {
  if (!element) { return; }
  var text = String(value);
  element.setAttribute(attribute, text);
}

function setText(elements, value) {
  elements.forEach(function (element) {
    if (element.textContent !== String(value)) { element.textContent = String(value); }
  });
}

// The map: /counts each second; each step's data-now / data-arrived and each path's data-took, and the numbers.
function followCounts(figure) {
  var url = figure.getAttribute("data-counts-url");
  function apply(counts) {
    every("g.step[data-step]", figure).forEach(function (step) {
      var key = step.getAttribute("data-step");
      var found = counts.steps[key] || { now: 0, arrived: 0 };
      setCount(step, "data-now", found.now);
      setCount(step, "data-arrived", found.arrived);
      setText(every("tspan.now", step), found.now);
      setText(every("tspan.arrived", step), found.arrived);
      setText(every('[data-now-of="' + CSS.escape(key) + '"]'), found.now);
      setText(every('[data-arrived-of="' + CSS.escape(key) + '"]'), found.arrived);
    });
    var took = {};
    counts.paths.forEach(function (path) { took[path.source + "\u0000" + path.target] = path.took; });
    every("g.path[data-source]", figure).forEach(function (path) {
      var value = took[path.getAttribute("data-source") + "\u0000" + path.getAttribute("data-target")] || 0;
      setCount(path, "data-took", value);
      setText(every("tspan.took", path), value);
    });
    setText(every("[data-live]"), counts.live);
    setText(every("[data-runs]"), counts.runs);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok && !response.redirected ? response.json() : null; })
      .then(function (counts) { if (counts) { apply(counts); } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  window.setTimeout(poll, 1000);
}

// A part of a customer's page (their runs, their timeline): read again after a form is posted, and every few
// seconds.
function follow(box) {
  var url = box.getAttribute("data-fragment-url");
  function reload() {
    return fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok && !response.redirected ? response.text() : null; })
      .then(function (html) { if (html !== null && box.innerHTML !== html) { box.innerHTML = html; } })
      .catch(function () { /* the next read tries again */ });
  }
  function poll() { reload().then(function () { window.setTimeout(poll, 2000); }); }
  window.setTimeout(poll, 2000);
  return reload;
}

function say(text, bad) {
  var status = document.getElementById("said");
  if (!status) { return; }
  status.textContent = text;
  status.hidden = false;
  status.className = bad ? "said error" : "said";
}

function postInBackground(form, reloadParts) {
  form.addEventListener("submit", function (submitted) {
    submitted.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", headers: { "X-Console-Fetch": "1" }
    })
      .then(function (response) {
        if (response.redirected) { return { error: "your session ended: reload the page and sign in again" }; }
        return response.json().catch(function () { return { error: "the server answered " + response.status }; });
      })
      .then(function (answer) {
        say(answer.error || answer.message, Boolean(answer.error));
        if (!answer.error) { every("input[name=reason], input[name=event], textarea[name=data]", form).forEach(function (f) { f.value = ""; }); }
        return Promise.all(reloadParts.map(function (reload) { return reload(); }));
      })
      .catch(function () { say("the server did not answer: try again", true); })
      .then(function () { if (button) { button.disabled = false; } });
  });
}

document.addEventListener("DOMContentLoaded", function () {
  every("[data-counts-url]").forEach(followCounts);
  var parts = every("[data-fragment-url]").map(follow);
  every("form[data-fetch]").forEach(function (form) { postInBackground(form, parts); });
});
