// The dashboard's entry: the token box, and a page per location hash:
//   #/?filters   the workflow list      #/workflow/ID   one workflow
//   #/queues     queues                 #/schedules     schedules
import { api, setToken, token } from "./api.js";
import { detailPage } from "./detail.js";
import { listPage } from "./list.js";
import { queuesPage, schedulesPage } from "./queues.js";

const main = document.getElementById("main");
const banner = document.getElementById("banner");
let cleanups = [];

function showBanner(text, error) {
  banner.hidden = !text;
  banner.textContent = text || "";
  banner.className = error ? "error" : "";
}

function tokenState() {
  document.getElementById("token-state").textContent = token() ? "token set for this tab" : "no token";
}

// A 401 anywhere means this gateway needs a token: say so at the top until a request succeeds.
window.addEventListener("tether:refused", (e) => {
  if (e.detail.status === 401) showBanner("This gateway needs a token: enter it above (it stays in this tab only).", true);
});
window.addEventListener("tether:answered", () => { if (!banner.hidden) showBanner(""); });

function route() {
  for (const fn of cleanups) fn();
  cleanups = [];
  const onCleanup = (fn) => cleanups.push(fn);
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, q] = hash.split("?");
  const params = new URLSearchParams(q || "");
  for (const a of document.querySelectorAll("header nav a[data-nav]")) a.classList.remove("active");
  const nav = (name) => { const a = document.querySelector(`header nav a[data-nav="${name}"]`); if (a) a.classList.add("active"); };
  delete main.dataset.loaded;
  if (path.startsWith("/workflow/")) {
    nav("workflows");
    detailPage(main, decodeURIComponent(path.slice("/workflow/".length)), onCleanup);
  } else if (path === "/queues") {
    nav("queues");
    queuesPage(main);
  } else if (path === "/schedules") {
    nav("schedules");
    schedulesPage(main);
  } else {
    nav("workflows");
    listPage(main, params, onCleanup);
  }
}

document.getElementById("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = document.getElementById("token-input");
  setToken(input.value.trim());
  input.value = "";
  tokenState();
  route();
});
document.getElementById("token-forget").addEventListener("click", () => {
  setToken("");
  tokenState();
  route();
});
window.addEventListener("hashchange", route);
tokenState();
route();
