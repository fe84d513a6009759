// The console's only way to the server: the public API under /v1/runwayml, with the token as a
// bearer header (never in a URL), and signed links for the event stream (EventSource sends no headers).

export const API = "/v1/runwayml";
const TOKEN_KEY = "taxiway.token";

/** A refusal or failure, in the server's own words ({"error", "code"}), with its status and body. */
export class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function errorFrom(response) {
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: a proxy's page, say; its status line is all there is to show
  }
  const message = (body && typeof body.error === "string" && body.error) || text.trim() ||
    `${response.status} ${response.statusText}`;
  return new ApiError(response.status, message, body);
}

export class Api {
  constructor() {
    this.token = sessionStorage.getItem(TOKEN_KEY) || "";
  }

  get signedIn() {
    return this.token !== "";
  }

  remember(token) {
    this.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
  }

  forget() {
    this.token = "";
    sessionStorage.removeItem(TOKEN_KEY);
  }

  /** JSON in, JSON out; null for 204; ApiError with the server's message otherwise. */
  async request(method, path, body = undefined) {
    const headers = { Authorization: `Bearer ${this.token}` };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(`${API}/${path}`, init);
    } catch (error) {
      throw new ApiError(0, `The server could not be reached (${error.message}).`);
    }
    if (!response.ok) throw await errorFrom(response);
    return response.status === 204 ? null : response.json();
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body);
  }

  delete(path) {
    return this.request("DELETE", path);
  }

  /** The server's own OpenAPI document: the operations' field specs (it needs no token). */
  async document() {
    const response = await fetch("/openapi.json");
    if (!response.ok) throw await errorFrom(response);
    return response.json();
  }

  /** Upload a file as the raw body; `onProgress(fraction)` as it goes (fetch cannot report that). */
  upload(file, email, onProgress) {
    const query = new URLSearchParams({ name: file.name });
    if (email) query.set("email", email);
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API}/assets/?${query}`);
      xhr.setRequestHeader("Authorization", `Bearer ${this.token}`);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      };
      xhr.onload = () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          // shown below as the status line
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          onProgress(1);
          resolve(body);
        } else {
          const message = (body && body.error) || `${xhr.status} ${xhr.statusText}`;
          reject(new ApiError(xhr.status, message, body));
        }
      };
      xhr.onerror = () => reject(new ApiError(0, "The upload was interrupted: the server could not be reached."));
      xhr.send(file);
    });
  }

  /**
   * Follow every task of this user as it changes: `onTask(task)` for each event. A stream that
   * ends (a restarted server, an expired link on reconnect) is opened again on a fresh link from
   * its last event id. Returns a function that stops following.
   */
  follow(onTask, onTrouble) {
    let source = null;
    let lastEventId = "";
    let stopped = false;
    let retry = 1000;
    const open = async () => {
      if (stopped) return;
      try {
        const { url } = await this.post("events/links", {});
        const link = lastEventId ? `${url}&lastEventId=${encodeURIComponent(lastEventId)}` : url;
        source = new EventSource(link);
      } catch (error) {
        onTrouble(error);
        setTimeout(open, (retry = Math.min(retry * 2, 30000)));
        return;
      }
      source.onopen = () => {
        retry = 1000;
        onTrouble(null);
      };
      source.onmessage = (event) => {
        if (event.lastEventId) lastEventId = event.lastEventId;
        onTask(JSON.parse(event.data));
      };
      source.onerror = () => {
        if (stopped) return;
        onTrouble(new ApiError(0, "The live task stream was interrupted; reconnecting…"));
        // CONNECTING: the browser tries again by itself, on the same link. CLOSED: it gave up (the
        // link had expired by then, a 403): a fresh link, resuming after the last event seen.
        if (source.readyState === EventSource.CLOSED) {
          source = null;
          setTimeout(open, retry);
        }
      };
    };
    open();
    return () => {
      stopped = true;
      if (source) source.close();
    };
  }
}
