// Task cards, kept up to date by the event stream: status, progress, ETA, queue position, live
// preview, cancel and delete; once SUCCEEDED, the result viewer, download and "use as input".

import { resultViewer } from "./compare.js";
import { el, formatSeconds, ordinal } from "./dom.js";

const LIVE = new Set(["PENDING", "THROTTLED", "RUNNING"]);

/** What the task is, in words: the options say which operation made it. */
export function operationTitle(task) {
  const options = task.options || {};
  if (task.taskType === "harrods") return "Upscale to 4K";
  if ("video_prompt" in options) return "Video to video";
  if ("outpaint_input_video" in options) return "Expand";
  if ("init_video" in options) return task.taskType === "gen3a_turbo" ? "Extend (Turbo)" : "Extend";
  return task.taskType;
}

/** The input video's link, where the task carries one. */
function inputUrl(task) {
  const options = task.options || {};
  return options.asset_url || options.video_prompt || options.outpaint_input_video || options.init_video || null;
}

/** The input asset's id, for tasks whose options carry no link to it (videos/upscale). */
function inputAssetId(task) {
  const options = task.options || {};
  return options.asset_id || options.assetId || options.videoAssetId || null;
}

export class TaskBoard {
  /** `actions`: { cancel(task), remove(task), useAsInput(assetId), assetUrl(assetId) }. */
  constructor(list, actions) {
    this.list = list;
    this.actions = actions;
    this.cards = new Map(); // taskId -> { task, node, parts, runningSince }
  }

  clear() {
    this.cards.clear();
    this.list.replaceChildren();
  }

  /** Show a task's latest state (a new card first, or the existing one updated). */
  show(task, { prepend = true } = {}) {
    let card = this.cards.get(task.taskId);
    if (!card) {
      card = this.build(task);
      this.cards.set(task.taskId, card);
      if (prepend) this.list.prepend(card.node);
      else this.list.append(card.node);
    } else if (task.updatedAt < card.task.updatedAt) {
      return; // an older state arriving late (a list read racing the stream)
    }
    this.update(card, task);
  }

  drop(taskId) {
    const card = this.cards.get(taskId);
    if (card) {
      card.node.remove();
      this.cards.delete(taskId);
    }
  }

  build(task) {
    const title = `${operationTitle(task)}: ${task.name}`;
    const node = el("article", { className: "task", dataset: { taskId: task.taskId } });
    node.setAttribute("aria-label", title);
    const status = el("span", { className: "badge", role: "status" });
    const heading = el("header", {}, el("h3", {}, title), status);
    const progress = el("progress", { max: 1, value: 0 });
    progress.setAttribute("aria-label", `Progress of ${task.name}`);
    const line = el("p", { className: "task-line" });
    const text = el("p", { className: "task-text" });
    const problem = el("p", { className: "task-error", role: "alert" });
    const preview = el("img", { className: "live-preview", alt: `Live preview of ${task.name}`, hidden: true });
    // Only the two latest stills are kept: a link read late may be gone (404). The next one comes.
    preview.addEventListener("error", () => (preview.hidden = true));
    preview.addEventListener("load", () => (preview.hidden = card.task.status !== "RUNNING"));
    const result = el("div", { className: "result" });
    const cancel = el("button", { type: "button" }, "Cancel");
    cancel.setAttribute("aria-label", `Cancel ${task.name}`);
    const remove = el("button", { type: "button", className: "danger" }, "Delete");
    remove.setAttribute("aria-label", `Delete task ${task.name}`);
    const jsonToggle = el("button", { type: "button", ariaExpanded: "false" }, "Task JSON");
    jsonToggle.setAttribute("aria-label", `Task JSON of ${task.name}`);
    const json = el("pre", { className: "json", hidden: true, tabIndex: 0 });
    json.setAttribute("aria-label", `JSON of ${task.name}`);
    jsonToggle.addEventListener("click", () => {
      json.hidden = !json.hidden;
      jsonToggle.setAttribute("aria-expanded", String(!json.hidden));
    });
    const card = { task, node, runningSince: null, resultShown: false, parts: { status, progress, line, text, problem, preview, result, cancel, remove, json } };
    cancel.addEventListener("click", () => this.act(card, cancel, () => this.actions.cancel(card.task)));
    remove.addEventListener("click", () => this.act(card, remove, () => this.actions.remove(card.task)));
    const buttons = el("div", { className: "buttons" }, cancel, remove, jsonToggle);
    node.append(heading, progress, line, text, preview, problem, result, buttons, json);
    return card;
  }

  async act(card, button, action) {
    button.disabled = true;
    card.parts.problem.textContent = "";
    try {
      await action();
    } catch (error) {
      card.parts.problem.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  update(card, task) {
    const previous = card.task;
    card.task = task;
    const { status, progress, line, text, problem, preview, cancel, json } = card.parts;
    const live = LIVE.has(task.status);
    card.node.dataset.status = task.status;
    status.textContent = task.status;
    status.className = `badge ${task.status.toLowerCase()}`;
    const ratio = Number(task.progressRatio || 0);
    if (task.status === "RUNNING" && card.runningSince === null) {
      card.runningSince = { at: performance.now(), ratio };
    }
    if (task.status === "SUCCEEDED") progress.value = 1;
    else if (task.status === "PENDING" || task.status === "THROTTLED") progress.removeAttribute("value");
    else progress.value = ratio;
    progress.hidden = !live && task.status !== "SUCCEEDED";
    line.textContent = this.describe(card, task, ratio);
    text.textContent = task.progressText || "";
    text.hidden = !task.progressText || !live;
    const still = task.status === "RUNNING" && task.previewUrls && task.previewUrls[0];
    if (still && still !== preview.src) preview.src = still; // shown once it has loaded
    if (!still) preview.hidden = true;
    cancel.hidden = !live;
    if (task.status === "FAILED" && task.error) {
      problem.textContent = `${task.error.reason}: ${task.error.message || task.error.errorMessage}`;
    } else if (previous.status !== task.status) {
      problem.textContent = "";
    }
    json.textContent = JSON.stringify(task, null, 2);
    if (task.status === "SUCCEEDED" && !card.resultShown && task.artifacts?.length) {
      card.resultShown = true;
      this.showResult(card, task);
    }
  }

  describe(card, task, ratio) {
    switch (task.status) {
      case "PENDING":
      case "THROTTLED": {
        const place = task.queuePosition ? `${ordinal(task.queuePosition)} in the queue` : "Queued";
        const wait = task.estimatedTimeToStartSeconds > 0
          ? ` · starts in about ${formatSeconds(task.estimatedTimeToStartSeconds)}` : "";
        const why = task.status === "THROTTLED" ? " · every worker is busy" : "";
        return `${place}${wait}${why}`;
      }
      case "RUNNING": {
        const percent = `${Math.floor(ratio * 100)}%`;
        const since = card.runningSince;
        const done = ratio - since.ratio;
        if (done <= 0.02 || ratio >= 1) return `${percent} · estimating time left…`;
        const elapsed = (performance.now() - since.at) / 1000;
        const left = (elapsed * (1 - ratio)) / done;
        return `${percent} · about ${formatSeconds(left)} left`;
      }
      case "SUCCEEDED":
        return `Done ${new Date(task.updatedAt).toLocaleTimeString()}`;
      case "CANCELLED":
        return "Cancelled; its credits were refunded.";
      case "FAILED":
        return "Failed; its credits were refunded.";
      default:
        return "";
    }
  }

  async showResult(card, task) {
    const artifact = task.artifacts[0];
    let before = inputUrl(task);
    if (!before && inputAssetId(task)) {
      try {
        before = await this.actions.assetUrl(inputAssetId(task));
      } catch {
        before = null; // the input was deleted: the result is shown alone
      }
    }
    const viewer = resultViewer(artifact.url, before, task.name, artifact.previewUrls?.[0], artifact.metadata?.dimensions);
    const download = el("a", { className: "button", href: artifact.url, download: artifact.filename }, "Download");
    download.setAttribute("aria-label", `Download ${artifact.filename}`);
    const use = el("button", { type: "button", className: "primary" }, "Use as input");
    use.setAttribute("aria-label", `Use ${artifact.filename} as input`);
    use.addEventListener("click", () => this.actions.useAsInput(artifact.assetId));
    const meta = artifact.metadata || {};
    const size = meta.dimensions ? `${meta.dimensions[0]}×${meta.dimensions[1]}` : "";
    const facts = [size, meta.duration ? `${meta.duration} s` : "", meta.frameRate ? `${meta.frameRate} fps` : ""]
      .filter(Boolean).join(" · ");
    card.parts.result.replaceChildren(
      viewer,
      el("div", { className: "result-bar" }, el("span", { className: "facts" }, `${artifact.filename} · ${facts}`), download, use),
    );
  }
}
