// The console's few behaviours a page cannot do by itself (no inline script: the
// Content-Security-Policy forbids it). Every page works without this file; it only adds:
// - forms with data-confirm ask before they are sent;
// - material viewers (data-viewer) zoom in, zoom out and rotate their image.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-view]") : null;
  if (!button) return;
  const viewer = document.getElementById(button.getAttribute("aria-controls") || "");
  const image = viewer ? viewer.querySelector("img") : null;
  if (!image) return;
  const state = image.dataset;
  let scale = Number(state.scale || "1");
  let turn = Number(state.turn || "0");
  switch (button.dataset.view) {
    case "zoom-in": scale = Math.min(scale * 1.25, 6); break;
    case "zoom-out": scale = Math.max(scale / 1.25, 0.25); break;
    case "rotate": turn = (turn + 90) % 360; break;
    case "reset": scale = 1; turn = 0; break;
  }
  state.scale = String(scale);
  state.turn = String(turn);
  image.style.transform = `scale(${scale}) rotate(${turn}deg)`;
});
