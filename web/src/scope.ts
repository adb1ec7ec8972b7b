/** Whose uploads these are: persisted resume state belongs to one tenant and one user. */

export interface TokenClaims {
  readonly sub?: string;
  readonly tenant_id?: string;
  readonly brand_ids?: readonly string[];
  readonly exp?: number;
}

/** The token's claims, read without verifying (the gateway verifies); null when unreadable. */
export function tokenClaims(token: string): TokenClaims | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const padded = payload.replace(/-/g, "+").replace(/_/g, "/");
    const text = new TextDecoder().decode(Uint8Array.from(atob(padded), (char) => char.charCodeAt(0)));
    const claims: unknown = JSON.parse(text);
    return typeof claims === "object" && claims !== null ? (claims as TokenClaims) : null;
  } catch {
    return null;
  }
}

/**
 * The persistence scope of a token: its tenant and user, or null when either is missing (then
 * nothing is persisted, so no upload can ever be shown to or deleted by someone else).
 */
export function scopeOf(token: string): string | null {
  const claims = tokenClaims(token);
  if (typeof claims?.tenant_id !== "string" || typeof claims.sub !== "string") return null;
  if (claims.tenant_id === "" || claims.sub === "") return null;
  return JSON.stringify([claims.tenant_id, claims.sub]);
}
