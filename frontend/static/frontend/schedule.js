// Booking form: find the patient as you type (animal, owner, phone, patient ID, microchip),
// or switch to registering a new owner and patient in the same form.
(function () {
  "use strict";

  var form = document.querySelector("[data-patient-search]");
  if (!form) return;
  var url = form.dataset.patientSearch;
  var patientInput = form.querySelector("input[name=patient]");
  var newInput = form.querySelector("input[name=new_patient]");
  var finder = form.querySelector("[data-finder]");
  var search = finder.querySelector("input[type=search]");
  var results = finder.querySelector("[data-results]");
  var chosen = form.querySelector("[data-chosen]");
  var chosenText = chosen.querySelector("[data-chosen-text]");
  var newPatient = form.querySelector("[data-new]");
  var timer = null;
  var asked = 0;

  function show(mode) {
    finder.hidden = mode !== "find";
    chosen.hidden = mode !== "chosen";
    newPatient.hidden = mode !== "new";
    newInput.value = mode === "new" ? "on" : "";
    if (mode !== "chosen") patientInput.value = "";
    if (mode === "find") search.focus();
  }

  function describe(p) {
    var parts = [p.name, p.species];
    if (p.breed) parts.push(p.breed);
    if (p.owner) parts.push(p.owner + (p.phone ? " (" + p.phone + ")" : ""));
    parts.push("ID " + p.patient_id);
    return parts.join(" · ");
  }

  function choose(p) {
    patientInput.value = p.id;
    chosenText.textContent = describe(p);
    show("chosen");
  }

  function render(patients, text) {
    results.textContent = "";
    if (!patients.length) {
      var none = document.createElement("li");
      none.textContent = "No patient matches “" + text + "”.";
      results.appendChild(none);
      return;
    }
    patients.forEach(function (p) {
      var item = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = describe(p);
      var pick = document.createElement("button");
      pick.type = "button";
      pick.className = "btn btn-primary";
      pick.textContent = "Choose";
      pick.setAttribute("aria-label", "Choose " + p.name + " (ID " + p.patient_id + ")");
      pick.addEventListener("click", function () { choose(p); });
      item.appendChild(label);
      item.appendChild(pick);
      results.appendChild(item);
    });
  }

  function lookup() {
    var text = search.value.trim();
    if (text.length < 2) {
      results.textContent = "";
      return;
    }
    var mine = ++asked;
    fetch(url + "?q=" + encodeURIComponent(text), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (mine === asked) render(body.patients, text); // a slower older answer loses
      })
      .catch(function () {
        results.textContent = "Search is not answering — check the connection.";
      });
  }

  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 200);
  });
  // Enter in the search box searches; it must not submit the booking.
  search.addEventListener("keydown", function (event) {
    if (event.key === "Enter") {
      event.preventDefault();
      lookup();
    }
  });
  form.querySelector("[data-change-patient]").addEventListener("click", function () { show("find"); });
  form.querySelector("[data-new-patient]").addEventListener("click", function () { show("new"); });
  form.querySelector("[data-find-patient]").addEventListener("click", function () { show("find"); });
})();
