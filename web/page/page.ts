/** The upload page: token handling, the AddAssetButton, and the dialog over one uploader. */

import { createUploader } from "@intake/uploader";

import { UploadAssetDialog } from "./dialog.js";
import { gatewayEnvironment, persistLimit } from "./settings.js";
import { adoptFragmentToken, brandOf, currentToken, setToken } from "./token.js";

/** The whole-file hash runs before initiation, so it is offered only for files it delays little. */
const VERIFY_LIMIT = 256 * 1024 * 1024;

function byId<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function showToken(): boolean {
  const token = currentToken();
  const brand = brandOf(token);
  byId("token-state").textContent = brand ? `brand ${brand}` : token ? "token unreadable" : "no token";
  return Boolean(brand);
}

async function start(): Promise<void> {
  const fragment = adoptFragmentToken();
  const limit = persistLimit(location.search, gatewayEnvironment());
  const uploader = createUploader({
    endpoint: location.origin,
    getToken: currentToken,
    brandId: () => brandOf(currentToken()) ?? "",
    ...(limit === undefined ? {} : { persistLimit: limit }),
    verifyUpTo: () => (byId<HTMLInputElement>("verify-checksum").checked ? VERIFY_LIMIT : 0),
  });
  const dialog = new UploadAssetDialog(byId<HTMLDialogElement>("upload-dialog"), uploader);
  byId("add-asset").addEventListener("click", () => dialog.open());
  const resume = async (): Promise<void> => {
    await uploader.resume();
    if (uploader.views().length > 0) dialog.open();
  };
  byId<HTMLFormElement>("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(byId<HTMLInputElement>("token-input").value);
    if (showToken()) void resume();
  });
  if (showToken()) await resume();
  else if (fragment === "refused") {
    byId("token-state").textContent = "a token in the address is refused here: paste it instead";
  }
}

void start();
