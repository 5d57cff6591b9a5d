// Copy buttons: <button type="button" class="copy" data-copy-target="ID"> copies the text of element ID.
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

async function copyFrom(button) {
  const target = document.getElementById(button.dataset.copyTarget);
  if (!target) return;
  const text = target.textContent;
  try {
    if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    announce(button, "Copied");
  } catch (_error) {
    selectContents(target);
    announce(button, "Selected: press Ctrl+C");
  }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy-target]");
  if (button) copyFrom(button);
});
