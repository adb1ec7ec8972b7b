/** The page's bearer token: from `#token=…` (then hidden from the address bar) or pasted. */

import { tokenClaims } from "@intake/uploader";

const KEY = "intake.token";

/** Take a token from the URL fragment into sessionStorage and drop it from the address bar. */
export function adoptFragmentToken(): void {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (!token) return;
  sessionStorage.setItem(KEY, token);
  history.replaceState(null, "", location.pathname + location.search);
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
