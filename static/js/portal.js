// Kinoite Portal's only script: local times, and htmx message toasts. htmx itself comes from django-htmx.
"use strict";

function localizeTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = when.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short",
      });
    }
  }
}

function showMessages(messages) {
  const box = document.getElementById("messages");
  if (!box) return;
  for (const m of messages) {
    const div = document.createElement("div");
    div.className = "message message-" + (m.tags || "info");
    div.textContent = m.message;
    box.appendChild(div);
    setTimeout(() => div.remove(), 8000);
  }
}

// A plain (non-htmx) POST form disables its buttons once submitted, so a second click cannot send it twice.
// htmx requests use hx-disabled-elt instead; htmx cancels the native submit, so they never get here.
function disableOnSubmit(event) {
  const form = event.target;
  if (event.defaultPrevented || form.method.toLowerCase() !== "post" || form.hasAttribute("hx-post")) return;
  const buttons = form.querySelectorAll("button:not([type]), button[type=submit]");
  // After this task, so the browser has already taken the clicked button's name and value.
  setTimeout(() => buttons.forEach((button) => { button.disabled = true; }), 0);
}

document.addEventListener("DOMContentLoaded", () => localizeTimes(document));
document.addEventListener("submit", disableOnSubmit);
document.addEventListener("htmx:afterSwap", (event) => localizeTimes(event.target));
document.addEventListener("messages", (event) => showMessages(event.detail.value || []));
