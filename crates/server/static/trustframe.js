// Trustframe's pages where JavaScript runs: forms submit in place (nothing typed is lost,
// passwords included), the pressed button shows that something is happening, focus goes to
// the first error, and password fields get a show/hide toggle. Every page works without it.
(() => {
  "use strict";

  // The hand-off page: post the response to the application at once.
  function handOff(form) {
    const button = form.querySelector("button");
    if (button) button.hidden = true;
    form.submit();
  }

  // Token viewer: a token in the fragment (response_mode=fragment) is posted to the page.
  function fragmentToViewer() {
    if (!document.querySelector("[data-fragment-post]") || location.hash.length < 2) return;
    const form = document.createElement("form");
    form.method = "post";
    form.action = location.pathname;
    for (const [name, value] of new URLSearchParams(location.hash.substring(1))) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.append(input);
    }
    history.replaceState(null, "", location.pathname);
    document.body.append(form);
    form.submit();
  }

  function copyButtons(root) {
    if (!navigator.clipboard) return;
    for (const source of root.querySelectorAll("[data-copy]")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "copy";
      button.textContent = source.dataset.copy;
      button.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(source.textContent.trim());
          button.textContent = "Copied";
        } catch {
          button.textContent = "Copy failed";
        }
        setTimeout(() => { button.textContent = source.dataset.copy; }, 1500);
      });
      source.after(button);
    }
  }

  function passwordToggles(form) {
    const show = form.dataset.showPassword;
    const hide = form.dataset.hidePassword;
    if (!show || !hide) return;
    for (const input of form.querySelectorAll('input[type="password"]')) {
      const wrap = document.createElement("div");
      wrap.className = "password-wrap";
      input.replaceWith(wrap);
      wrap.append(input);
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.className = "tf-toggle";
      toggle.textContent = show;
      toggle.setAttribute("aria-pressed", "false");
      if (input.id) toggle.setAttribute("aria-controls", input.id);
      toggle.addEventListener("click", () => {
        const showing = input.type === "password";
        input.type = showing ? "text" : "password";
        toggle.setAttribute("aria-pressed", String(showing));
        toggle.textContent = showing ? hide : show;
      });
      wrap.append(toggle);
    }
  }

  function focusFirstError(root) {
    const target =
      root.querySelector('[aria-invalid="true"]') ||
      root.querySelector("#error, .error.pageLevel");
    if (!target) return false;
    if (!/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(target.tagName)) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
    return true;
  }

  // The password fields of a form, by name (they may be shown as text by the toggle).
  function passwords(form) {
    const typed = new Map();
    for (const input of form.querySelectorAll(".password-wrap input, input[type=password]")) {
      if (input.name && input.value) typed.set(input.name, input.value);
    }
    return typed;
  }

  // The same page again after an error: what was typed in its password fields goes back,
  // except in a field the error is about.
  function restore(form, typed) {
    for (const [name, value] of typed) {
      const input = form.querySelector(`input[name="${CSS.escape(name)}"]`);
      if (!input || input.getAttribute("aria-invalid") === "true") continue;
      input.value = value;
      const note = document.getElementById(`${name}_retype`);
      if (note) {
        note.remove();
        const described = (input.getAttribute("aria-describedby") || "")
          .split(/\s+/)
          .filter((id) => id && id !== `${name}_retype`);
        if (described.length) input.setAttribute("aria-describedby", described.join(" "));
        else input.removeAttribute("aria-describedby");
      }
    }
  }

  function busy(form, submitter, on) {
    form.setAttribute("aria-busy", on ? "true" : "false");
    let label = form.dataset.busy || "";
    if (submitter && submitter.value) {
      const labelled = submitter.dataset.busy
        ? submitter
        : form.querySelector(`button[value="${CSS.escape(submitter.value)}"][data-busy]`);
      if (labelled) label = labelled.dataset.busy;
    }
    const status = form.querySelector(".tf-status");
    if (status) status.textContent = on ? label : "";
    // Disabled only now: the pressed button's value is already in the form data.
    for (const button of form.querySelectorAll("button")) button.disabled = on;
  }

  function enhance(form) {
    form.addEventListener("submit", async (event) => {
      if (!window.fetch || !window.DOMParser) return;
      event.preventDefault();
      if (form.getAttribute("aria-busy") === "true") return;
      const submitter = event.submitter;
      let data;
      try {
        data = new FormData(form, submitter);
      } catch {
        data = new FormData(form);
        if (submitter && submitter.name) data.append(submitter.name, submitter.value);
      }
      const typed = passwords(form);
      const page = form.dataset.page;
      busy(form, submitter, true);
      let response;
      try {
        // getAttribute: the buttons named "action" shadow form.action.
        response = await fetch(form.getAttribute("action"), {
          method: "POST",
          body: new URLSearchParams(data),
          headers: { "X-Trustframe-Submit": "1" },
          credentials: "same-origin",
        });
      } catch {
        busy(form, submitter, false);
        const status = form.querySelector(".tf-status");
        if (status) status.textContent = form.dataset.offline || "The connection failed. Please try again.";
        return;
      }
      // Elsewhere (the application, an identity provider): the browser goes there.
      const elsewhere = response.headers.get("X-Trustframe-Location");
      if (elsewhere) {
        location.assign(elsewhere);
        return;
      }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const handoff = doc.querySelector("form[data-autosubmit]");
      if (handoff) {
        const copy = document.importNode(handoff, true);
        document.body.append(copy);
        handOff(copy);
        return;
      }
      const next = doc.getElementById("api");
      const current = document.getElementById("api");
      if (response.url) history.replaceState(null, "", response.url);
      document.title = doc.title;
      if (next && current) {
        current.replaceWith(document.importNode(next, true));
      } else {
        document.body.replaceWith(document.importNode(doc.body, true));
      }
      const root = document.getElementById("api") || document.body;
      const again = root.querySelector("form[data-page]");
      if (again && again.dataset.page === page) restore(again, typed);
      init(root);
      if (!focusFirstError(root)) {
        const first = root.querySelector("input:not([type=hidden]):not([readonly]), h1");
        if (first) {
          if (first.tagName === "H1") first.setAttribute("tabindex", "-1");
          first.focus();
        }
      }
    });
  }

  function init(root) {
    for (const form of root.querySelectorAll("form[data-busy]")) {
      passwordToggles(form);
      enhance(form);
    }
    copyButtons(root);
  }

  const handoff = document.querySelector("form[data-autosubmit]");
  if (handoff) {
    handOff(handoff);
    return;
  }
  fragmentToViewer();
  init(document);
  focusFirstError(document);
})();
