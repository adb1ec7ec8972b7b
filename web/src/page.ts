/** The harness page: token handling, the AddAssetButton, and the dialog over one UploadManager. */

import { UploadAssetDialog } from "./dialog.js";
import { uploadManager } from "./manager.js";
import { adoptFragmentToken, claims, currentToken, setToken } from "./token.js";

/** Hashing runs before initiation, so it is offered only for files it delays little. */
const HASH_LIMIT = 256 * 1024 * 1024;

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

/** Optional settings from the address: `?persistLimit=…` lets a tester lower the limit. */
function numberParam(name: string): number | undefined {
  const value = new URLSearchParams(location.search).get(name);
  return value === null || Number.isNaN(Number(value)) ? undefined : Number(value);
}

function showToken(): boolean {
  const token = currentToken();
  const brand = claims(token)?.brand_ids?.[0];
  byId("token-state").textContent = brand ? `brand ${brand}` : token ? "token unreadable" : "no token";
  return Boolean(brand);
}

function start(): void {
  adoptFragmentToken();
  const persistLimit = numberParam("persistLimit");
  const manager = uploadManager({
    baseUrl: location.origin,
    token: currentToken,
    brandId: () => claims(currentToken())?.brand_ids?.[0] ?? "",
    ...(persistLimit === undefined ? {} : { persistLimit }),
    hashLimit: () => (byId<HTMLInputElement>("verify-checksum").checked ? HASH_LIMIT : 0),
  });
  const dialog = new UploadAssetDialog(byId<HTMLDialogElement>("upload-dialog"), manager);
  byId("add-asset").addEventListener("click", () => dialog.open());
  const restore = async (): Promise<void> => {
    await manager.restore();
    if (manager.views().length > 0) dialog.open();
  };
  byId<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(byId<HTMLInputElement>("token-input").value);
    if (showToken()) void restore();
  });
  if (showToken()) void restore();
}

start();
