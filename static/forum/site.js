// Progressive enhancement only: the forms work the same without this file.
// Fields marked data-reveal="name=value" or "name!=value" show only when that
// condition holds; hidden ones are disabled so stale text is not submitted.
(function () {
  "use strict";

  function currentValue(form, name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : "";
  }

  function holds(form, rule) {
    var negate = rule.indexOf("!=") !== -1;
    var parts = rule.split(negate ? "!=" : "=");
    var value = currentValue(form, parts[0]);
    if (!value) return false;
    return negate ? value !== parts[1] : value === parts[1];
  }

  function update(form) {
    form.querySelectorAll("[data-reveal]").forEach(function (field) {
      var show = holds(form, field.getAttribute("data-reveal"));
      field.hidden = !show;
      field.querySelectorAll("input, textarea, select").forEach(function (input) {
        input.disabled = !show;
      });
    });
  }

  document.querySelectorAll("form.reply-form").forEach(function (form) {
    form.addEventListener("change", function () { update(form); });
    update(form);
  });
})();
