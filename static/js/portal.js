// Kinoite Portal's shared script: local times, htmx message toasts, copy buttons. htmx itself comes from django-htmx.
"use strict";

function localizeTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]:not(.absolute)")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = when.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", timeZoneName: "short",
      });
    }
  }
}

// Absolute times (the {% at %} tag) are written in UTC by the server; show them in the viewer's zone instead.
function localizeAbsoluteTimes(root) {
  for (const el of root.querySelectorAll("time.absolute[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = when.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
      });
    }
  }
}

// The clipboard API needs a secure context; plain http on a LAN address falls back to a selected text area.
function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
}

function copyOnClick(event) {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const label = button.textContent;
  copyText(button.dataset.copy).then(
    () => { button.textContent = "copied"; button.classList.add("copied"); },
    () => { button.textContent = "select and copy"; },
  ).finally(() => setTimeout(() => { button.textContent = label; button.classList.remove("copied"); }, 1500));
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

document.addEventListener("DOMContentLoaded", () => { localizeTimes(document); localizeAbsoluteTimes(document); });
document.addEventListener("click", copyOnClick);
document.addEventListener("submit", disableOnSubmit);
document.addEventListener("htmx:afterSwap", (event) => { localizeTimes(event.target); localizeAbsoluteTimes(event.target); });
document.addEventListener("messages", (event) => showMessages(event.detail.value || []));
