// Guardian's only script (a module: the CSP allows no inline script).
// - Marks the page as JavaScript-enabled for the NHS.UK components and starts them.
// - Sends the session's CSRF token (from <meta name="csrf-token">) with every htmx request.
import { initAll } from "./vendor/nhsuk/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

const csrf = document.querySelector('meta[name="csrf-token"]');
document.body.addEventListener("htmx:configRequest", (event) => {
  if (csrf && csrf.content) {
    event.detail.headers["X-CSRF-Token"] = csrf.content;
  }
});

// Print buttons (data-print) need this script: shown only when it runs.
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
