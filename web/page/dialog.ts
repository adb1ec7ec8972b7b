/** UploadAssetDialog: file picker, drop zone, and one row per file kept in step with the manager. */

import type { ProgressSnapshot, UploadManager, UploadView } from "@intake/uploader";

import * as format from "./format.js";

const ACTIVE = new Set(["queued", "uploading", "paused"]);

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  text = "",
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.textContent = text;
  return node;
}

/** The parts of one row that change, created once so inputs and buttons stay the same nodes. */
class Row {
  readonly root = element("li", { class: "row", "data-testid": "upload-row" });
  private readonly status = element("span", { class: "status", "data-testid": "row-status" });
  private readonly bar = element("progress", { max: "1", value: "0" });
  private readonly meta = element("div", { class: "meta", "data-testid": "row-meta" });
  private readonly asset = element("div", { class: "asset", "data-testid": "row-asset" });
  private readonly error = element("div", { class: "error", "data-testid": "row-error", role: "alert" });
  private readonly cancel = element("button", { "data-testid": "cancel-button" }, "Cancel");
  private readonly retry = element("button", { "data-testid": "retry-button" }, "Retry");
  private readonly prompt = element("div", { class: "resume-prompt", "data-testid": "resume-prompt" });
  private readonly repick = element("input", { type: "file", "data-testid": "resume-file-input" });

  constructor(view: UploadView, manager: UploadManager) {
    const name = element("div", { class: "name" }, view.fileName);
    name.append(this.status);
    const actions = element("div", { class: "actions" });
    actions.append(this.cancel, this.retry);
    this.prompt.append(element("span", {}, `Pick "${view.fileName}" again to resume it: `), this.repick);
    this.root.append(name, actions, this.bar, this.meta, this.prompt, this.error, this.asset);
    this.root.dataset.fileName = view.fileName;
    this.cancel.addEventListener("click", () => void manager.cancel(view.id));
    this.retry.addEventListener("click", () => void manager.retry(view.id));
    this.repick.addEventListener("change", () => {
      const file = this.repick.files?.[0];
      if (file) void manager.provideFile(view.id, file);
      this.repick.value = "";
    });
  }

  update(view: UploadView): void {
    const data = this.root.dataset;
    data.status = view.status;
    data.sessionId = view.sessionId ?? "";
    data.persisted = String(view.persisted);
    if (view.assetId) data.assetId = view.assetId;
    this.status.textContent = view.status;
    const { bytes, total, speed, etaS } = view.progress;
    this.bar.value = total === 0 ? (view.status === "completed" ? 1 : 0) : bytes / total;
    const live = view.status === "uploading";
    this.meta.textContent = `${format.bytes(bytes)} of ${format.bytes(total)}${live ? ` · ${format.speed(speed)} · ${format.eta(etaS)} left` : ""}`;
    this.asset.textContent = view.assetId ? `Asset ${view.assetId}` : "";
    this.asset.hidden = !view.assetId;
    this.error.textContent = view.error ?? "";
    this.error.hidden = !view.error;
    this.cancel.hidden = !ACTIVE.has(view.status);
    this.retry.hidden = view.status !== "failed";
    this.prompt.hidden = !view.needsFile;
    if (view.needsFile) this.prompt.dataset.fileName = view.fileName;
  }
}

export class UploadAssetDialog {
  private readonly rows = new Map<string, Row>();

  constructor(
    private readonly dialog: HTMLDialogElement,
    private readonly manager: UploadManager,
  ) {
    const input = dialog.querySelector<HTMLInputElement>("#file-input");
    const zone = dialog.querySelector<HTMLElement>("#drop-zone");
    input?.addEventListener("change", () => {
      if (input.files?.length) void manager.add([...input.files]);
      input.value = "";
    });
    zone?.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone?.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone?.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      const files = event.dataTransfer?.files;
      if (files?.length) void manager.add([...files]);
    });
    dialog.querySelector("#close-dialog")?.addEventListener("click", () => dialog.close());
    manager.on("change", ({ uploads, total }) => this.render(uploads, total));
  }

  open(): void {
    if (!this.dialog.open) this.dialog.showModal();
  }

  private render(views: readonly UploadView[], total: ProgressSnapshot): void {
    const list = this.dialog.querySelector("#rows");
    for (const view of views) {
      let row = this.rows.get(view.id);
      if (!row) {
        row = new Row(view, this.manager);
        this.rows.set(view.id, row);
        list?.append(row.root);
      }
      row.update(view);
    }
    for (const [id, row] of this.rows) {
      if (!views.some((view) => view.id === id)) {
        row.root.remove();
        this.rows.delete(id);
      }
    }
    const overall = this.dialog.querySelector("#overall");
    if (overall) {
      overall.textContent = views.length === 0 ? "" : `${format.bytes(total.bytes)} of ${format.bytes(total.total)} · ${format.speed(total.speed)} · ${format.eta(total.etaS)} left`;
    }
  }
}
