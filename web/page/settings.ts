/** What the page takes from its address, within what the gateway's mode allows. */

import { MAX_PERSIST_LIMIT } from "@intake/uploader";

/** The gateway's mode, from the `<meta name="intake-environment">` it writes into the page:
 * read without a request, so the page wires its controls before anyone can use them.
 * Unknown counts as production. */
export function gatewayEnvironment(): "local" | "production" {
  const meta = document.querySelector('meta[name="intake-environment"]');
  return meta?.getAttribute("content") === "local" ? "local" : "production";
}

/**
 * `?persistLimit=<bytes>` lets a tester lower or raise the size of files kept for a reload,
 * up to MAX_PERSIST_LIMIT, and only against a local gateway: in production it is ignored.
 */
export function persistLimit(search: string, environment: "local" | "production"): number | undefined {
  if (environment !== "local") return undefined;
  const raw = new URLSearchParams(search).get("persistLimit");
  if (raw === null || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) return undefined;
  return Math.min(Math.floor(value), MAX_PERSIST_LIMIT);
}
