// The console: sign in, accounts, uploads and the library, operation forms, live tasks.

import { Api, API, ApiError } from "./api.js";
import { el, formatBytes, formatSeconds } from "./dom.js";
import { OPERATIONS, operationForm, operationSchemas } from "./forms.js";
import { TaskBoard } from "./tasks.js";

const api = new Api();
const $ = (selector) => document.querySelector(selector);

const state = {
  accounts: {}, // email -> account
  assets: [], // newest first
  engines: null,
  schemas: {},
  summaries: {},
  stopFollowing: null,
  chosenInput: null, // assetId picked by "use as input"
};

const board = new TaskBoard($("#task-list"), {
  cancel: async (task) => board.show(await api.delete(`tasks/${encodeURIComponent(task.taskId)}`)),
  remove: async (task) => {
    const answer = await api.delete(`tasks/${encodeURIComponent(task.taskId)}`);
    if (answer === null) {
      board.drop(task.taskId);
      refreshLibrary(); // its artifacts went with it
    } else {
      board.show(answer); // it was live: it is cancelled now
    }
  },
  useAsInput: (assetId) => useAsInput(assetId),
  assetUrl: async (assetId) => {
    // videos/upscale's options name the input by its bare id: the library has it, else ask.
    const known = state.assets.find((asset) => asset.id === assetId || asset.assetId === assetId);
    return known ? known.url : (await api.get(`assets/${encodeURIComponent(assetId)}`)).url;
  },
});

/** A message for something that failed outside any form: never silent. */
function notify(message, kind = "error") {
  const box = $("#notice");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = !message;
}

// Sign in ------------------------------------------------------------------------------------------

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("#token").value.trim();
  const error = $("#sign-in-error");
  error.textContent = "";
  if (!token) {
    error.textContent = "Enter an API token (taxiway admin user create NAME prints one).";
    return;
  }
  api.remember(token);
  try {
    await start();
    $("#token").value = "";
  } catch (failure) {
    api.forget();
    showSignIn();
    error.textContent = failure.message;
  }
});

$("#sign-out").addEventListener("click", () => {
  api.forget();
  if (state.stopFollowing) state.stopFollowing();
  state.stopFollowing = null;
  board.clear();
  showSignIn();
});

function showSignIn() {
  $("#sign-in").hidden = false;
  $("#workspace").hidden = true;
  $("#sign-out").hidden = true;
  $("#token").focus();
}

async function start() {
  await loadAccounts(); // first: a wrong token stops here, with the server's 401
  const [document, engines] = await Promise.all([api.document(), api.get("engines")]);
  state.engines = engines;
  state.schemas = operationSchemas(document, API);
  for (const op of OPERATIONS) state.summaries[op.path] = document.paths[`${API}/${op.path}`]?.post?.summary;
  $("#sign-in").hidden = true;
  $("#workspace").hidden = false;
  $("#sign-out").hidden = false;
  await refreshLibrary();
  buildOperationForm();
  const tasks = await api.get("tasks/?limit=50");
  board.clear();
  for (const task of tasks) board.show(task, { prepend: false });
  if (state.stopFollowing) state.stopFollowing();
  state.stopFollowing = api.follow(onTaskEvent, (trouble) => notify(trouble ? trouble.message : ""));
}

let accountsTimer = null;

function onTaskEvent(task) {
  board.show(task);
  if (task.status === "SUCCEEDED") refreshLibrary(); // its artifact is a new asset
  // Credits move with tasks (charged on admission, refunded on failure): show them soon after.
  clearTimeout(accountsTimer);
  accountsTimer = setTimeout(() => loadAccounts().catch((error) => notify(error.message)), 300);
}

// Accounts -----------------------------------------------------------------------------------------

async function loadAccounts() {
  state.accounts = await api.get("accounts");
  const list = $("#account-list");
  const emails = Object.keys(state.accounts);
  list.replaceChildren(
    ...emails.map((email) => {
      const account = state.accounts[email];
      const credits = account.credits;
      return el("li", { className: "account" },
        el("strong", {}, email),
        el("span", {}, `${credits.available} of ${credits.permitted} credits left`),
        el("span", {}, `plan ${account.plan}`),
        el("span", {}, `maxJobs ${account.maxJobs}`));
    }),
  );
  $("#no-accounts").hidden = emails.length > 0;
  const picker = $("#upload-account");
  const chosen = picker.value;
  picker.replaceChildren(...emails.map((email) => el("option", { value: email, selected: email === chosen }, email)));
  $("#upload-account-field").hidden = emails.length < 2;
}

$("#account-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = form.querySelector(".form-error");
  error.textContent = "";
  const email = form.elements.email.value.trim();
  const maxJobs = Number(form.elements.maxJobs.value);
  try {
    await api.post(`accounts/${encodeURIComponent(email)}`, { email, maxJobs });
    form.reset();
    await loadAccounts();
    buildOperationForm();
  } catch (failure) {
    error.textContent = failure.message;
  }
});

// Uploads and the library -------------------------------------------------------------------------

const drop = $("#drop-zone");
drop.addEventListener("click", () => $("#file").click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    $("#file").click();
  }
});
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  uploadFiles([...event.dataTransfer.files]);
});
$("#file").addEventListener("change", (event) => {
  uploadFiles([...event.target.files]);
  event.target.value = "";
});

async function uploadFiles(files) {
  const bar = $("#upload-progress");
  const line = $("#upload-status");
  const error = $("#upload-error");
  error.textContent = "";
  for (const file of files) {
    bar.hidden = false;
    bar.value = 0;
    line.textContent = `Uploading ${file.name} (${formatBytes(file.size)})…`;
    try {
      const asset = await api.upload(file, $("#upload-account").value, (fraction) => {
        bar.value = fraction;
        line.textContent = `Uploading ${file.name}: ${Math.round(fraction * 100)}%`;
      });
      line.textContent = `Uploaded ${asset.name}.`;
      await refreshLibrary();
    } catch (failure) {
      line.textContent = "";
      bar.hidden = true;
      error.textContent = `${file.name}: ${failure.message}`;
    }
  }
}

async function refreshLibrary() {
  try {
    state.assets = await api.get("assets/?limit=50");
  } catch (error) {
    notify(`The library could not be read: ${error.message}`);
    return;
  }
  const list = $("#asset-list");
  list.replaceChildren(...state.assets.map(assetCard));
  $("#no-assets").hidden = state.assets.length > 0;
  for (const select of document.querySelectorAll("select[data-asset-kind]")) {
    fillAssets(select, select.dataset.assetKind, select.getAttribute("aria-required") === "true");
  }
}

function assetFacts(asset) {
  const meta = asset.metadata || {};
  return [
    meta.width ? `${meta.width}×${meta.height}` : "",
    meta.duration ? formatSeconds(meta.duration) : "",
    meta.frameRate ? `${meta.frameRate} fps` : "",
    formatBytes(asset.fileSize),
  ].filter(Boolean).join(" · ");
}

function assetCard(asset) {
  const thumb = asset.previewUrls?.[0] || (asset.mediaType === "image" ? asset.url : null);
  const picture = thumb
    ? el("img", { src: thumb, alt: `Thumbnail of ${asset.name}`, loading: "lazy" })
    : el("div", { className: "no-thumb" }, asset.mediaType);
  const use = el("button", { type: "button" }, "Use");
  use.setAttribute("aria-label", `Use ${asset.name} as input`);
  use.addEventListener("click", () => useAsInput(asset.assetId));
  use.hidden = asset.mediaType !== "video";
  const remove = el("button", { type: "button", className: "danger" }, "Delete");
  remove.setAttribute("aria-label", `Delete ${asset.name}`);
  const problem = el("p", { className: "task-error", role: "alert" });
  remove.addEventListener("click", async () => {
    remove.disabled = true;
    problem.textContent = "";
    try {
      await api.delete(`assets/${encodeURIComponent(asset.assetId)}`);
      await refreshLibrary();
    } catch (failure) {
      problem.textContent = failure.message;
      remove.disabled = false;
    }
  });
  const item = el("li", { className: "asset", dataset: { assetId: asset.assetId } },
    picture,
    el("div", { className: "asset-body" },
      el("strong", { className: "asset-name" }, asset.name),
      el("span", { className: "facts" }, assetFacts(asset)),
      el("span", { className: "facts" }, asset.isUserUpload ? "upload" : "result"),
      el("div", { className: "buttons" }, use, remove),
      problem));
  item.setAttribute("aria-label", asset.name);
  return item;
}

function fillAssets(select, kind, required) {
  const chosen = select.value;
  const options = state.assets.filter((asset) => asset.mediaType === kind);
  select.replaceChildren();
  if (!required) select.append(el("option", { value: "" }, "None"));
  if (required && !options.length) select.append(el("option", { value: "" }, `Upload a ${kind} first`));
  for (const asset of options) {
    select.append(el("option", { value: asset.assetId }, `${asset.name} (${assetFacts(asset)})`));
  }
  if (chosen && options.some((asset) => asset.assetId === chosen)) select.value = chosen;
}

// Operations --------------------------------------------------------------------------------------

const operationPicker = $("#operation");
operationPicker.replaceChildren(...OPERATIONS.map((op) => el("option", { value: op.path }, op.title)));
operationPicker.addEventListener("change", () => buildOperationForm());

function buildOperationForm() {
  const op = OPERATIONS.find((each) => each.path === operationPicker.value);
  const schema = state.schemas[op.path];
  const holder = $("#operation-form");
  if (!schema) {
    holder.replaceChildren(el("p", { className: "form-error", role: "alert" }, `The server does not offer ${op.path}.`));
    return;
  }
  const context = { engines: state.engines, accounts: Object.keys(state.accounts), fillAssets };
  const form = operationForm({ ...op, summary: state.summaries[op.path] }, schema, context, async (body) => {
    const task = await api.post(op.path, body);
    board.show(task);
    notify("");
    loadAccounts().catch((error) => notify(error.message));
  });
  holder.replaceChildren(form);
  if (state.chosenInput) selectInput(form, state.chosenInput);
}

function selectInput(form, assetId) {
  const select = form.querySelector('select[data-asset-kind="video"]');
  if (select && [...select.options].some((option) => option.value === assetId)) select.value = assetId;
}

async function useAsInput(assetId) {
  state.chosenInput = assetId;
  if (!state.assets.some((asset) => asset.assetId === assetId)) await refreshLibrary();
  selectInput($("#operation-form form"), assetId);
  $("#operations").scrollIntoView({ behavior: "smooth", block: "start" });
  operationPicker.focus();
  const asset = state.assets.find((each) => each.assetId === assetId);
  notify(asset ? `${asset.name} is the input now: pick an operation and run it.` : "", "info");
}

// Start ------------------------------------------------------------------------------------------

window.addEventListener("unhandledrejection", (event) => {
  notify(event.reason instanceof ApiError ? event.reason.message : `Something went wrong: ${event.reason}`);
});

if (api.signedIn) {
  start().catch((error) => {
    api.forget();
    showSignIn();
    $("#sign-in-error").textContent = error.message;
  });
} else {
  showSignIn();
}
