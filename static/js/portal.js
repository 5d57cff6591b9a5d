// Kinoite Portal's shared script: local times, htmx message toasts, the live compose log. htmx comes from django-htmx.
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

// A running compose's log: fetch only the lines after what the page has, append them, and follow the tail unless
// the reader scrolled up to read something.
const LOG_POLL_MS = 2000;

function followLog(log) {
  const url = log.dataset.tailUrl;
  let offset = Number(log.dataset.offset || 0);
  log.scrollTop = log.scrollHeight;
  async function poll() {
    let answer;
    try {
      const response = await fetch(`${url}?offset=${offset}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      answer = await response.json();
    } catch (error) {
      setTimeout(poll, LOG_POLL_MS * 2);  // a restarting server: try again a little later
      return;
    }
    if (answer.text) {
      const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 8;
      log.append(document.createTextNode(answer.text));
      if (atBottom) log.scrollTop = log.scrollHeight;
    } else if (!log.textContent) {
      const status = document.getElementById("compose-status");
      if (status && status.dataset.state === "running") log.dataset.empty = "Started; the first lines arrive in a moment.";
    }
    offset = answer.offset;
    log.dataset.offset = String(offset);
    if (answer.finished) {
      delete log.dataset.tailUrl;
      return;
    }
    setTimeout(poll, LOG_POLL_MS);
  }
  setTimeout(poll, LOG_POLL_MS);
}

// A running job's elapsed time, counted each second between two polls of its status.
function tickElapsed() {
  for (const el of document.querySelectorAll(".elapsed[data-since]")) {
    const seconds = Math.max(0, Math.floor((Date.now() - new Date(el.dataset.since)) / 1000));
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    el.textContent = h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
  }
}

// After the user's own htmx action (a vote, a cancel) answers with an error, move keyboard focus to that error so
// screen readers and keyboard users land on it, instead of on the page body the swap left them on.
function focusSwappedAlert(event) {
  const config = event.detail.requestConfig;
  if (!config || config.verb === "get") return;
  let root = event.detail.target;
  if (!root.isConnected && root.id) root = document.getElementById(root.id);  // an outerHTML swap replaced it
  const alert = root && root.querySelector('[role="alert"]');
  if (!alert) return;
  alert.tabIndex = -1;
  alert.focus();
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

document.addEventListener("DOMContentLoaded", () => {
  localizeTimes(document);
  localizeAbsoluteTimes(document);
  const log = document.querySelector("#compose-log[data-tail-url]");
  if (log) followLog(log);
  if (document.getElementById("compose-status")) setInterval(tickElapsed, 1000);
});
document.addEventListener("submit", disableOnSubmit);
document.addEventListener("htmx:afterSwap", (event) => { localizeTimes(event.target); localizeAbsoluteTimes(event.target); });
document.addEventListener("htmx:afterSettle", focusSwappedAlert);
document.addEventListener("messages", (event) => showMessages(event.detail.value || []));
