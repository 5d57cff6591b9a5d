// The admin's treefile editor: keep the line-number gutter in step with the text and its scroll position.
"use strict";

function numberLines(editor) {
  const area = editor.querySelector("textarea");
  const gutter = editor.querySelector(".code-lines");
  if (!area || !gutter) return;
  let shown = -1;
  const render = () => {
    const lines = area.value.split("\n").length;
    if (lines !== shown) {
      gutter.textContent = Array.from({ length: lines }, (_, i) => i + 1).join("\n");
      shown = lines;
    }
    gutter.scrollTop = area.scrollTop;
  };
  area.addEventListener("input", render);
  area.addEventListener("scroll", () => { gutter.scrollTop = area.scrollTop; });
  render();
}

document.addEventListener("DOMContentLoaded", () => document.querySelectorAll(".code-editor").forEach(numberLines));
