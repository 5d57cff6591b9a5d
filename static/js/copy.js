// Copy buttons: <button type="button" class="copy" data-copy-target="ID"> copies the text of element ID, and
// <button type="button" class="copy" data-copy="VALUE"> copies VALUE (a full checksum shown short).
// Without clipboard permission (plain http on another host, an old browser) it selects the text instead, so
// Ctrl+C copies it; the button says which of the two happened.
"use strict";

function selectContents(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

function announce(button, text) {
  const label = button.dataset.label || button.textContent;
  button.dataset.label = label;
  button.textContent = text;
  setTimeout(() => { button.textContent = label; }, 2500);
}

// A value that is not on the page in full: put it in a selected, off-screen text area and copy that.
function copyThroughTextArea(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  return copied;
}

async function copyFrom(button) {
  const target = button.dataset.copyTarget ? document.getElementById(button.dataset.copyTarget) : null;
  const text = button.dataset.copy ?? (target ? target.textContent : null);
  if (text === null) return;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    announce(button, "Copied");
  } catch (_error) {
    if (target) {
      selectContents(target);
      announce(button, "Selected: press Ctrl+C");
    } else {
      announce(button, copyThroughTextArea(text) ? "Copied" : "Copy refused");
    }
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy-target], button[data-copy]");
  if (button) copyFrom(button);
});
