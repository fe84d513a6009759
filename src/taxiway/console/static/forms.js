// Operation forms built from the server's own field specs (its OpenAPI document: the schemas that
// validate requests), with the model picker from GET engines. The server validates; its message for
// a field is shown beside that field.

import { el } from "./dom.js";

/** The contract's operations, in the order the console offers them, and the engine operation each runs. */
export const OPERATIONS = [
  { path: "videos/upscale", title: "Upscale to 4K", engine: "upscale" },
  { path: "gen3alpha/upscale", title: "Upscale to 4K (Gen-3 Alpha)", engine: "upscale" },
  { path: "gen3turbo/video", title: "Video to video", engine: "video_to_video" },
  { path: "gen3turbo/expand", title: "Expand", engine: "expand" },
  { path: "gen3/extend", title: "Extend (Gen-3)", engine: "extend" },
  { path: "gen3turbo/extend", title: "Extend (Gen-3 Turbo)", engine: "extend" },
];

// Fields a user rarely sets, kept under "More options".
const ADVANCED = new Set(["exploreMode", "replyUrl", "replyRef", "maxJobs", "email", "seed"]);

const LABELS = {
  assetId: "Video",
  videoAssetId: "Video",
  imageAssetId: "Guiding image",
  text_prompt: "Prompt",
  structure_transformation: "Structure transformation",
  aspect_ratio: "Aspect ratio",
  outpaint_aspect_ratio: "Aspect ratio",
  seconds: "Seconds",
  resolution: "Resolution",
  seed: "Seed",
  model: "Model",
  exploreMode: "Explore mode (free, runs after paid work)",
  replyUrl: "Callback URL",
  replyRef: "Callback reference",
  maxJobs: "Max jobs",
  email: "Account",
};

// Where the server's description speaks to API clients, the console says it for its own controls.
const HINTS = {
  model: "The engines this server offers for this operation (GET engines); one that cannot run here is shown, disabled.",
  email: "The account that runs and pays for the task; by default the input video's account.",
};

/** The form-data schema of each operation: the one without JSON's nulls. */
export function operationSchemas(document, prefix) {
  const schemas = {};
  for (const op of OPERATIONS) {
    const post = document.paths[`${prefix}/${op.path}`]?.post;
    const schema = post?.requestBody?.content?.["multipart/form-data"]?.schema;
    if (schema) schemas[op.path] = schema;
  }
  return schemas;
}

function isAssetField(name) {
  return name === "assetId" || name.endsWith("AssetId");
}

function describeRange(spec) {
  if (spec.enum) return null;
  if (spec.minimum !== undefined && spec.maximum !== undefined) return `${spec.minimum}–${spec.maximum}`;
  if (spec.maxLength !== undefined) return `up to ${spec.maxLength} characters`;
  return null;
}

/** One field's control, labelled, with its hint and a place for the server's message. */
function fieldControl(op, name, spec, required, context) {
  const id = `${op.path.replace("/", "-")}-${name}`;
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  let control;
  if (isAssetField(name)) {
    const kind = name === "imageAssetId" ? "image" : "video";
    control = el("select", { name, dataset: { assetKind: kind } });
    context.fillAssets(control, kind, required);
  } else if (name === "model") {
    control = el("select", { name });
    const engines = context.engines?.operations?.[op.engine] || [];
    for (const engine of engines) {
      const ready = engine.status === "ready";
      const label = `${engine.model}${engine.default ? " (default)" : ""}${ready ? "" : ` — ${engine.status}`}`;
      control.append(el("option", { value: engine.default ? "" : engine.model, disabled: !ready, title: engine.problem || "" }, label));
    }
    if (!engines.length) control.append(el("option", { value: "" }, "Default engine"));
  } else if (name === "email") {
    control = el("select", { name });
    control.append(el("option", { value: "" }, "The video's account"));
    for (const email of context.accounts) control.append(el("option", { value: email }, email));
  } else if (spec.type === "boolean") {
    control = el("input", { type: "checkbox", name, checked: spec.default === true });
  } else if (spec.enum) {
    control = el("select", { name });
    if (spec.default === undefined) control.append(el("option", { value: "" }, "Server's choice"));
    for (const value of spec.enum) {
      control.append(el("option", { value: String(value), selected: value === spec.default }, String(value)));
    }
  } else if (spec.type === "integer" || spec.type === "number") {
    control = el("input", {
      type: "number",
      name,
      inputMode: spec.type === "integer" ? "numeric" : "decimal",
      step: spec.type === "integer" ? "1" : "any",
      placeholder: spec.default !== undefined ? String(spec.default) : "",
    });
    if (spec.minimum !== undefined) control.min = String(spec.minimum);
    if (spec.maximum !== undefined) control.max = String(spec.maximum);
    if (spec.default !== undefined) control.value = String(spec.default);
  } else if (name === "text_prompt") {
    control = el("textarea", { name, rows: 2 });
  } else {
    control = el("input", { type: "text", name, autocomplete: "off" });
  }
  control.id = id;
  control.dataset.type = spec.type;
  control.setAttribute("aria-describedby", `${hintId} ${errorId}`);
  if (required) control.setAttribute("aria-required", "true");
  const range = control.tagName === "SELECT" ? null : describeRange(spec); // a list says it all
  const hint = el("p", { className: "hint", id: hintId },
    `${HINTS[name] || spec.description || ""}${range ? ` (${range})` : ""}`);
  const error = el("p", { className: "field-error", id: errorId, hidden: true });
  const mark = required ? el("span", { className: "required", title: "required" }, " *") : null;
  if (mark) mark.setAttribute("aria-hidden", "true"); // aria-required says it, without changing the name
  const label = el("label", { htmlFor: id }, LABELS[name] || name, mark);
  const wrapper = el("div", { className: spec.type === "boolean" ? "field check" : "field", dataset: { field: name } });
  if (spec.type === "boolean") wrapper.append(control, label, hint, error);
  else wrapper.append(label, control, hint, error);
  return wrapper;
}

/** The form of one operation; `onSubmit(body, form)` sends it. */
export function operationForm(op, schema, context, onSubmit) {
  const form = el("form", { className: "op-form", noValidate: true, dataset: { operation: op.path } });
  form.setAttribute("aria-label", op.title);
  const required = new Set(schema.required || []);
  const basic = el("div", { className: "fields" });
  const more = el("div", { className: "fields" });
  for (const [name, spec] of Object.entries(schema.properties)) {
    (ADVANCED.has(name) ? more : basic).append(fieldControl(op, name, spec, required.has(name), context));
  }
  const details = el("details", { className: "more" }, el("summary", {}, "More options"), more);
  const status = el("p", { className: "form-error", role: "alert" });
  const submit = el("button", { type: "submit", className: "primary" }, `Run ${op.title[0].toLowerCase()}${op.title.slice(1)}`);
  form.append(el("p", { className: "op-summary" }, op.summary || ""), basic, details, status, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    try {
      await onSubmit(formBody(form, schema), form);
    } catch (error) {
      showErrors(form, schema, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** What the form says, as JSON: empty fields left out (the server fills its defaults). */
function formBody(form, schema) {
  const body = {};
  for (const name of Object.keys(schema.properties)) {
    const control = form.elements.namedItem(name);
    if (!control) continue;
    if (control.type === "checkbox") {
      if (control.checked) body[name] = true;
      continue;
    }
    const raw = control.value;
    if (raw === "") continue;
    const type = control.dataset.type;
    if (type === "integer" || type === "number") {
      // A number as a number; anything else as typed, so that the server says what is wrong with it.
      const number = Number(raw);
      body[name] = raw.trim() !== "" && Number.isFinite(number) ? number : raw;
    } else {
      body[name] = raw;
    }
  }
  return body;
}

export function clearErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) {
    error.hidden = true;
    error.textContent = "";
  }
  for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
  form.querySelector(".form-error").textContent = "";
}

/**
 * The server's message beside the fields it names: it joins one sentence per problem with "; ",
 * each starting with the field's name (the allowed values follow after another "; ").
 */
export function fieldMessages(message, names) {
  const found = new Map();
  let current = null;
  for (const part of message.split("; ")) {
    const name = names.find((each) => part === each || part.startsWith(`${each} `));
    if (name) {
      current = name;
      found.set(name, part);
    } else if (current) {
      found.set(current, `${found.get(current)}; ${part}`);
    }
  }
  return found;
}

function showErrors(form, schema, error) {
  form.querySelector(".form-error").textContent = error.message;
  if (error.status !== 400) return;
  const messages = fieldMessages(error.message, Object.keys(schema.properties));
  for (const [name, text] of messages) {
    const wrapper = form.querySelector(`[data-field="${name}"]`);
    if (!wrapper) continue;
    const box = wrapper.querySelector(".field-error");
    box.textContent = text;
    box.hidden = false;
    wrapper.querySelector("input, select, textarea").setAttribute("aria-invalid", "true");
    if (wrapper.closest("details")) wrapper.closest("details").open = true;
  }
}
