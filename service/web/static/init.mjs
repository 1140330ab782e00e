// Marks the page as able to run the NHS.UK frontend's scripts, then starts its components.
import { initAll } from "./nhsuk-frontend-10.6.1/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();
