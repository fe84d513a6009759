// The result of a task beside its input: the result alone, side by side, or one over the other with a
// wipe slider; in both comparisons the two videos play in step (the result leads, the input follows).

import { el } from "./dom.js";

const DRIFT_SECONDS = 0.12; // how far the follower may wander before it is put back

function syncedPair(leader, follower) {
  const align = () => {
    if (Math.abs(follower.currentTime - leader.currentTime) > DRIFT_SECONDS) {
      follower.currentTime = Math.min(leader.currentTime, follower.duration || leader.currentTime);
    }
  };
  leader.addEventListener("play", () => {
    align();
    follower.play().catch(() => {});
  });
  leader.addEventListener("pause", () => {
    follower.pause();
    align();
  });
  leader.addEventListener("seeked", align);
  leader.addEventListener("timeupdate", align);
  leader.addEventListener("ratechange", () => {
    follower.playbackRate = leader.playbackRate;
  });
}

function video(src, label) {
  const node = el("video", { src, preload: "metadata", playsInline: true, muted: true, loop: true });
  node.setAttribute("aria-label", label);
  return node;
}

/** A result viewer for `resultUrl`, compared with `inputUrl` when there is one. */
export function resultViewer(resultUrl, inputUrl, name, poster = "", dimensions = null) {
  const root = el("div", { className: "viewer" });
  // The comparison frames take the result's shape (a portrait expand is not boxed into 16:9).
  if (dimensions) root.style.setProperty("--aspect", `${dimensions[0]} / ${dimensions[1]}`);
  const stage = el("div", { className: "stage" });
  const modes = el("div", { className: "modes", role: "radiogroup" });
  modes.setAttribute("aria-label", `View of ${name}`);
  const modeNames = [
    ["result", "Result"],
    ["side", "Side by side"],
    ["wipe", "Wipe"],
  ];
  let current = null;
  const show = (mode) => {
    if (mode === current) return;
    current = mode;
    for (const button of modes.querySelectorAll("button")) {
      button.setAttribute("aria-checked", String(button.dataset.mode === mode));
      button.tabIndex = button.dataset.mode === mode ? 0 : -1;
    }
    stage.replaceChildren(...render(mode));
  };
  const render = (mode) => {
    if (mode === "result" || !inputUrl) {
      const player = el("video", { src: resultUrl, controls: true, preload: "metadata", playsInline: true });
      if (poster) player.poster = poster;
      player.setAttribute("aria-label", "Result video");
      return [player];
    }
    const after = video(resultUrl, "Result video");
    const before = video(inputUrl, "Input video");
    syncedPair(after, before);
    const play = el("button", { type: "button", className: "play" }, "Play both");
    play.addEventListener("click", () => {
      if (after.paused) after.play().catch(() => {});
      else after.pause();
    });
    after.addEventListener("play", () => (play.textContent = "Pause both"));
    after.addEventListener("pause", () => (play.textContent = "Play both"));
    const seek = el("input", { type: "range", min: "0", max: "1000", value: "0", className: "seek" });
    seek.setAttribute("aria-label", "Position in both videos");
    seek.addEventListener("input", () => {
      if (after.duration) after.currentTime = (seek.valueAsNumber / 1000) * after.duration;
    });
    after.addEventListener("timeupdate", () => {
      if (after.duration) seek.value = String(Math.round((after.currentTime / after.duration) * 1000));
    });
    const controls = el("div", { className: "compare-controls" }, play, seek);
    if (mode === "side") {
      return [
        el("div", { className: "side" },
          el("figure", {}, before, el("figcaption", {}, "Before")),
          el("figure", {}, after, el("figcaption", {}, "After"))),
        controls,
      ];
    }
    const wipe = el("input", { type: "range", min: "0", max: "100", value: "50", className: "wipe-slider" });
    wipe.setAttribute("aria-label", "Wipe position");
    const frame = el("div", { className: "wipe" }, before, after, el("div", { className: "wipe-line" }));
    const place = () => frame.style.setProperty("--wipe", `${wipe.value}%`);
    wipe.addEventListener("input", place);
    place();
    return [frame, el("label", { className: "wipe-label" }, "Before ◂ ▸ After", wipe), controls];
  };
  for (const [mode, label] of modeNames) {
    const button = el("button", { type: "button", role: "radio", dataset: { mode } }, label);
    button.disabled = mode !== "result" && !inputUrl;
    button.addEventListener("click", () => show(mode));
    modes.append(button);
  }
  // Arrow keys move between the modes, as in any radio group.
  modes.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"].includes(event.key)) return;
    const buttons = [...modes.querySelectorAll("button:not(:disabled)")];
    const index = buttons.findIndex((button) => button.dataset.mode === current);
    const step = event.key === "ArrowLeft" || event.key === "ArrowUp" ? -1 : 1;
    const next = buttons[(index + step + buttons.length) % buttons.length];
    show(next.dataset.mode);
    next.focus();
    event.preventDefault();
  });
  root.append(modes, stage);
  show("result");
  return root;
}
