// The "Copy" button of a new API token. A file, not an inline script, so the dashboard's
// Content-Security-Policy can forbid inline scripts.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("copy-token");
  if (!button) return;
  const field = document.getElementById(button.dataset.copies);
  const status = document.getElementById("copy-status");
  button.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      status.textContent = "Copied.";
    } catch (error) {
      // No clipboard access (e.g. plain http): the token is selected for Ctrl+C instead.
      status.textContent = "Selected: press Ctrl+C (or \u2318C) to copy.";
    }
  });
});
