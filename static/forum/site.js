// Progressive enhancement only: every form and link works the same without this
// file (Preview and Quote fall back to the reply page; nothing else is lost).
(function () {
  "use strict";

  // Fields marked data-reveal="name=value" or "name!=value" show only when that
  // condition holds; hidden ones are disabled so stale text is not submitted.
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

  function reveal(form) {
    form.querySelectorAll("[data-reveal]").forEach(function (field) {
      var show = holds(form, field.getAttribute("data-reveal"));
      field.hidden = !show;
      field.querySelectorAll("input, textarea, select").forEach(function (input) {
        input.disabled = !show;
      });
    });
  }

  // Drafts: what is typed into a reply form is kept in this browser until it
  // is posted. The attestation is never restored: it is given for each post.
  // A draft belongs to one reader and one reply: the form's action, its owner
  // (data-draft-owner), and the post or passage it answers, which are never
  // restored from a draft but name it.
  var PENDING = "standpoint:posting";
  var PREFIX = "standpoint:draft:";
  var SKIP = { csrfmiddlewaretoken: true, attest: true, preview: true, parent: true, passage: true };

  function storage(kind) {
    try {
      var store = window[kind];
      store.setItem("standpoint:probe", "1");
      store.removeItem("standpoint:probe");
      return store;
    } catch (e) {
      return null; // private mode or storage switched off: no drafts, no harm
    }
  }

  var local = storage("localStorage");
  var session = storage("sessionStorage");

  function draftKey(form) {
    var parent = form.elements.parent ? form.elements.parent.value : "";
    var passage = form.elements.passage ? form.elements.passage.value : "";
    return PREFIX + (form.getAttribute("data-draft-owner") || "") + ":" +
      form.getAttribute("action") + "#" + parent + "/" + passage;
  }

  function forgetAllDrafts() {
    if (!local) return;
    for (var i = local.length - 1; i >= 0; i--) {
      var key = local.key(i);
      if (key && key.indexOf(PREFIX) === 0) local.removeItem(key);
    }
  }

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !SKIP[el.name] && el.type !== "submit" && el.type !== "button";
    });
  }

  function saveDraft(form) {
    if (!local || !form.hasAttribute("data-draft-owner")) return;
    var values = {};
    var typed = false;
    fields(form).forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        values[el.name] = values[el.name] || [];
        if (el.checked) values[el.name].push(el.value);
      } else {
        values[el.name] = el.value;
        if (el.name === "body" && el.value.trim()) typed = true;
      }
    });
    if (typed) {
      local.setItem(draftKey(form), JSON.stringify(values));
    } else {
      local.removeItem(draftKey(form));
    }
  }

  function restoreDraft(form) {
    if (!local || !form.hasAttribute("data-draft-owner")) return false;
    var saved = local.getItem(draftKey(form));
    var body = form.elements.body;
    // A page that came back with errors, or a quote, already holds the text.
    if (!saved || !body || body.value.trim() || form.querySelector(".has-error, .form-errors")) {
      return false;
    }
    var values;
    try {
      values = JSON.parse(saved);
    } catch (e) {
      return false;
    }
    fields(form).forEach(function (el) {
      if (!(el.name in values)) return;
      var value = values[el.name];
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = Array.isArray(value) && value.indexOf(el.value) !== -1;
      } else if (typeof value === "string") {
        el.value = value;
      }
    });
    return true;
  }

  function announceDraft(form) {
    var note = document.createElement("p");
    note.className = "draft-note";
    note.setAttribute("role", "status");
    form.insertBefore(note, form.firstChild);
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "link";
    discard.textContent = "Discard the draft";
    discard.addEventListener("click", function () {
      local.removeItem(draftKey(form));
      form.reset();
      reveal(form);
      note.remove();
      form.elements.body.focus();
    });
    // Filled once the live region is in the page, so screen readers announce it.
    setTimeout(function () {
      note.appendChild(document.createTextNode("Your unsent draft was restored from this browser. "));
      note.appendChild(discard);
    }, 50);
  }

  function settlePending() {
    if (!session || !local) return;
    var key = session.getItem(PENDING);
    if (!key) return;
    session.removeItem(PENDING);
    // The message the site shows once a reply is posted; otherwise keep the draft.
    if (document.querySelector(".messages .posted")) local.removeItem(key);
  }

  // Preview: the server renders the body with the same sanitiser as a post.
  function preview(form, button, event) {
    if (!window.fetch || !window.FormData) return;
    event.preventDefault();
    // Not `disabled`: that would drop the keyboard focus on the page's body.
    if (button.getAttribute("aria-disabled") === "true") return;
    var region = form.querySelector("#reply-preview");
    var status = form.querySelector("#reply-preview-status");
    var data = new FormData();
    data.append("body", form.elements.body.value);
    data.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    button.setAttribute("aria-disabled", "true");
    fetch(button.getAttribute("data-preview"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    })
      .then(function (response) {
        return response.text().then(function (text) {
          // A redirect means the session ended (the sign-in page): not a preview.
          return { ok: response.ok && !response.redirected, status: response.redirected ? 401 : response.status, text: text };
        });
      })
      .then(function (result) {
        var title = region.querySelector("h3").outerHTML;
        if (result.ok) {
          // Sanitised on the server: the same HTML a posted reply shows.
          region.innerHTML = title + result.text;
        } else {
          region.innerHTML = title;
          var error = document.createElement("p");
          error.className = "errorlist";
          error.textContent =
            result.status === 429
              ? "Too many previews in a short time: wait a few minutes and try again."
              : result.status === 401
                ? "You are signed out: sign in again in another tab to preview or post. Your text is still here."
                : "The preview could not be made (error " + result.status + "). Your text is still here.";
          region.appendChild(error);
        }
        region.hidden = false;
        if (status) status.textContent = result.ok ? "Preview updated below the form." : "The preview could not be made.";
      })
      .catch(function () {
        region.hidden = false;
        region.querySelectorAll(".preview-body, .errorlist").forEach(function (el) {
          el.remove();
        });
        var error = document.createElement("p");
        error.className = "errorlist";
        error.textContent = "The preview could not be reached. Your text is still here.";
        region.appendChild(error);
      })
      .then(function () {
        button.removeAttribute("aria-disabled");
      });
  }

  // Quote: fill the reply on this page with the passage or post, linked back.
  function quoteText(link) {
    var scope = link.hasAttribute("data-quote-post")
      ? link.closest("article").querySelector(".body")
      : link.closest(".passage");
    var selection = window.getSelection ? String(window.getSelection()) : "";
    var range = selection && window.getSelection().rangeCount ? window.getSelection().getRangeAt(0) : null;
    if (range && scope.contains(range.commonAncestorContainer) && selection.trim()) {
      return selection;
    }
    var copy = scope.cloneNode(true);
    copy.querySelectorAll(".quote-link").forEach(function (el) {
      el.remove();
    });
    return copy.textContent;
  }

  // A passage's link names its source; a reply's is read from the reply itself,
  // which keeps twenty replies' worth of attributes off every page.
  function quoteSource(link) {
    if (link.hasAttribute("data-quote-source")) {
      return { name: link.getAttribute("data-quote-source"), url: link.getAttribute("data-quote-url") };
    }
    var post = link.closest("article");
    return {
      name: post.querySelector(".post-id").textContent + " by " + post.querySelector(".author").textContent,
      url: post.querySelector(".permalink").getAttribute("href"),
    };
  }

  function quote(form, link, event) {
    event.preventDefault();
    var words = quoteText(link).split(/\s+/).filter(Boolean);
    var excerpt = words.slice(0, 80).join(" ") + (words.length > 80 ? " …" : "");
    var source = quoteSource(link);
    var text = "> " + excerpt + "\n>\n> — [" + source.name + "](" + source.url + ")\n\n";
    var body = form.elements.body;
    if (local) local.removeItem(draftKey(form)); // saved again below, under its new answer
    body.value = body.value.trim() ? body.value.replace(/\s*$/, "\n\n") + text : text;
    if (link.hasAttribute("data-quote-post")) {
      form.elements.parent.value = link.getAttribute("data-quote-post");
    } else {
      form.elements.passage.value = link.getAttribute("data-quote-passage");
    }
    saveDraft(form);
    body.focus();
    body.setSelectionRange(body.value.length, body.value.length);
  }

  settlePending();

  // Signing out forgets this browser's drafts: the next reader must not find them.
  document.querySelectorAll('form[action$="/accounts/logout/"]').forEach(function (form) {
    form.addEventListener("submit", forgetAllDrafts);
  });

  document.querySelectorAll("form.reply-form").forEach(function (form) {
    var timer = null;
    form.addEventListener("change", function () {
      reveal(form);
      saveDraft(form);
    });
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        saveDraft(form);
      }, 300);
    });
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name === "preview") return;
      saveDraft(form);
      if (session) session.setItem(PENDING, draftKey(form));
    });
    var button = form.querySelector("button[data-preview]");
    if (button) {
      button.addEventListener("click", function (event) {
        preview(form, button, event);
      });
    }
    if (restoreDraft(form)) announceDraft(form);
    reveal(form);
  });

  var replyForm = document.querySelector("form.reply-form");
  if (replyForm && replyForm.elements.body && replyForm.elements.parent) {
    document.querySelectorAll("a[data-quote-post], a[data-quote-passage]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        quote(replyForm, link, event);
      });
    });
  }

  // Errors are announced (role=alert) and the summary takes focus, so a
  // keyboard or screen-reader user starts where the problems are listed.
  var summary = document.getElementById("form-errors");
  if (summary) summary.focus();
})();
