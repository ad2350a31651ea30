import { ApiError, api, type SessionInfo, setCsrf } from "./api.ts";
import { renderBrowse } from "./browse.ts";
import { renderBuckets } from "./buckets.ts";
import { renderCluster } from "./cluster.ts";
import { announce, fill, h } from "./dom.ts";
import { uploads } from "./upload.ts";

/** What a view leaves running (polling): stopped when another view replaces it. */
type Stop = () => void;
let stopView: Stop | undefined;
let session: SessionInfo | undefined;

const app = document.getElementById("app")!;

function signIn(message?: string): void {
  const error = h("p", { id: "signin-error", class: "error", role: "alert" }, message ?? "");
  const id = h("input", {
    id: "key-id",
    name: "id",
    autocomplete: "username",
    required: true,
    spellcheck: "false",
  });
  const secret = h("input", {
    id: "key-secret",
    name: "secret",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const form = h(
    "form",
    { class: "card signin", "aria-describedby": "signin-help" },
    h("h1", {}, "dfs-mesh console"),
    h("p", { id: "signin-help" }, "Sign in with an access key (dfs key create)."),
    h("label", { for: "key-id" }, "Access key id"),
    id,
    h("label", { for: "key-secret" }, "Secret"),
    secret,
    error,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      session = await api<SessionInfo>("POST", "/ui/api/session", {
        id: id.value.trim(),
        secret: secret.value,
      });
      setCsrf(session.csrf);
      secret.value = "";
      shell();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      secret.focus();
    }
  });
  fill(app, h("main", { id: "main" }, form));
  id.focus();
}

async function signOut(): Promise<void> {
  try {
    await api("DELETE", "/ui/api/session");
  } finally {
    session = undefined;
    stopView?.();
    location.hash = "";
    signIn("Signed out.");
  }
}

function shell(): void {
  const nav = h(
    "nav",
    { "aria-label": "Main" },
    h("a", { href: "#/buckets", id: "nav-buckets" }, "Buckets"),
    session?.cluster ? h("a", { href: "#/cluster", id: "nav-cluster" }, "Cluster") : null,
  );
  const out = h("button", { type: "button", class: "secondary", id: "sign-out" }, "Sign out");
  out.addEventListener("click", () => void signOut());
  fill(
    app,
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h(
      "header",
      {},
      h("span", { class: "brand" }, "dfs-mesh"),
      nav,
      h("span", { class: "who" }, session?.name ?? "", " (", session?.keyId ?? "", ")"),
      out,
    ),
    h("main", { id: "main", tabindex: "-1" }),
    uploads.panel,
    h("p", { id: "status", class: "status", role: "status", "aria-live": "polite" }),
  );
  route();
}

function route(): void {
  if (session === undefined) return;
  stopView?.();
  stopView = undefined;
  const main = document.getElementById("main")!;
  const hash = location.hash.replace(/^#\/?/, "");
  const [view = "buckets", ...rest] = hash.split("/");
  for (const a of document.querySelectorAll("nav a")) {
    const current = a.getAttribute("href") === `#/${view === "b" ? "buckets" : view}`;
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (view === "b" && rest.length >= 1) {
    const bucket = decodeURIComponent(rest[0]!);
    const prefix = decodeURIComponent(rest.slice(1).join("/"));
    uploads.target = { bucket, prefix };
    stopView = renderBrowse(main, bucket, prefix);
  } else if (view === "cluster") {
    uploads.target = undefined;
    stopView = renderCluster(main);
  } else {
    uploads.target = undefined;
    renderBuckets(main, session);
  }
}

window.addEventListener("hashchange", () => {
  route();
  document.getElementById("main")?.focus();
});

window.addEventListener("unhandledrejection", (e) => {
  const err = e.reason as unknown;
  if (err instanceof ApiError && err.status === 401) signIn("Your session ended: sign in again.");
  else announce(err instanceof Error ? err.message : String(err), "error");
});

try {
  session = await api<SessionInfo>("GET", "/ui/api/session");
  setCsrf(session.csrf);
  shell();
} catch {
  signIn();
}
