// Send the CSRF token with every htmx request (Flask-WTF checks it on POST).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.querySelector('meta[name="csrf-token"]');
  if (token) event.detail.headers["X-CSRFToken"] = token.content;
});

// A panel marked data-pause-while-used refreshes itself, but never while the operator is using
// it: not while focus is inside, nor while a <details> in it is open. (htmx's trigger filters
// would say this in the template, but htmx evals them and the Content-Security-Policy forbids
// eval.) Cancelling one poll leaves the next one scheduled.
document.addEventListener("htmx:beforeRequest", (event) => {
  const panel = event.detail.elt;
  if (!panel.matches("[data-pause-while-used]")) return;
  if (panel.contains(document.activeElement) || panel.querySelector("details[open]")) {
    event.preventDefault();
  }
});
