/** The page's bearer token: from `#token=…` (then hidden from the address bar) or pasted. */

import { tokenClaims } from "@intake/uploader";

const KEY = "intake.token";

/** Take a token from the URL fragment into sessionStorage and drop it from the address bar.
 * Where the gateway refuses fragment tokens (production: a URL ends up in history, logs and
 * screenshots), the token is dropped unread; the answer says whether one was refused. */
export function adoptFragmentToken(): "adopted" | "refused" | "none" {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (!token) return "none";
  history.replaceState(null, "", location.pathname + location.search);
  if (fragmentTokensRefused()) return "refused";
  sessionStorage.setItem(KEY, token);
  return "adopted";
}

function fragmentTokensRefused(): boolean {
  const meta = document.querySelector('meta[name="intake-fragment-tokens"]');
  return meta?.getAttribute("content") === "refused";
}

export function currentToken(): string {
  return sessionStorage.getItem(KEY) ?? "";
}

export function setToken(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}

/** The brand the page uploads to: the token's first `brand_ids` entry. */
export function brandOf(token: string): string | undefined {
  return tokenClaims(token)?.brand_ids?.[0];
}
