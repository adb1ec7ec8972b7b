/** The page's bearer token: from `#token=…` (then hidden from the address bar) or pasted. */

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

/** The token's claims, read without verifying (the gateway verifies); null when unreadable. */
export function claims(token: string): { brand_ids?: string[]; sub?: string; exp?: number } | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as { brand_ids?: string[]; sub?: string };
  } catch {
    return null;
  }
}
