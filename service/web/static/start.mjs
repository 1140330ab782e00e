// The link is /p/start#token=...: the fragment never leaves the browser in a request. Take
// the code out of the address (so it stays out of the history), put it in the form and send
// it (a POST body, never a URL). Without JavaScript the person types the code instead.
const match = /^#token=([A-Za-z0-9_-]+)$/.exec(window.location.hash);
if (match) {
  history.replaceState(null, "", window.location.pathname);
  const form = document.getElementById("start-form");
  form.elements.access_code.value = match[1];
  form.submit();
}
