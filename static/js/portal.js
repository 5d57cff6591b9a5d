// Kinoite Portal's only script: local times, and htmx message toasts. htmx itself comes from django-htmx.
"use strict";

function localizeTimes(root) {
  for (const el of root.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) el.title = when.toLocaleString();
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

document.addEventListener("DOMContentLoaded", () => localizeTimes(document));
document.addEventListener("htmx:afterSwap", (event) => localizeTimes(event.target));
document.addEventListener("messages", (event) => showMessages(event.detail.value || []));
