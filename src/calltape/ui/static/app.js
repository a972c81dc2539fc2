// calltape's recordings page: plain JavaScript, no build step, nothing loaded from elsewhere.
// The API token lives in this tab's sessionStorage and goes out only as the X-Auth-Token header;
// audio is fetched through short-lived signed links (the <audio> element cannot send headers).
"use strict";

const TOKEN_KEY = "calltape.token";
const PAGE_SIZE = 25;
const LIVE_INTERVAL_MS = 2000;

const $ = (id) => document.getElementById(id);

const state = {
  account: "",
  pages: [""], // start_key of each page seen so far ("" = the first)
  page: 0,
  nextKey: null,
  rows: new Map(), // id -> recording document on the current page
  openId: null,
  openGeneration: 0,
  listGeneration: 0,
  liveTimer: null,
  users: new Map(),
};

// ---- errors: one clear line ---------------------------------------------------------------------

function showError(message) {
  const line = $("error");
  line.textContent = message;
  line.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function describeFailure(status, body) {
  if (status === 401) return "The API token was not accepted: sign in again with the admin token.";
  let detail = "";
  if (body && typeof body === "object") {
    const data = body.data && typeof body.data === "object" ? Object.entries(body.data) : [];
    // crossbar's shape: {"field.path": {"rule": {"message": "reason"}}}
    const reason = (v) =>
      v && typeof v === "object" ? Object.values(v).map((r) => (r && r.message) || String(r)).join(", ") : String(v);
    detail = data.length ? data.map(([k, v]) => `${k}: ${reason(v)}`).join("; ") : body.message || "";
  }
  return `The server answered ${status}${detail ? ": " + detail : ""}.`;
}

// ---- the API ------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  const headers = { "X-Auth-Token": token, Accept: "application/json" };
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...headers, ...(options.headers || {}) } });
  } catch (err) {
    throw new ApiError(0, "calltape cannot be reached: is the server running?");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, describeFailure(response.status, body));
  return body;
}

function accountPath(rest) {
  return `/v2/accounts/${encodeURIComponent(state.account)}${rest}`;
}

// ---- small helpers --------------------------------------------------------------------------------

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

function when(unixSeconds) {
  if (!unixSeconds) return "";
  return new Date(unixSeconds * 1000).toLocaleString();
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function stateBadge(value) {
  return el("span", value, { class: `state state-${value}`, "data-state": value });
}

function withoutPassword(url) {
  if (!url) return "";
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url; // as written: placeholders such as {ACCOUNT_ID} stay readable
    parsed.password = "***";
    return decodeURI(parsed.toString());
  } catch (err) {
    return url;
  }
}

function callerOf(doc) {
  const name = doc.caller_id_name && doc.caller_id_name !== doc.caller_id_number ? ` (${doc.caller_id_name})` : "";
  return `${doc.caller_id_number || doc.from || ""}${name}`;
}

function calleeOf(doc) {
  return doc.callee_id_number || doc.to || "";
}

// ---- sign in / out --------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  clearError();
  let token = $("token").value.trim();
  const account = $("account-name").value.trim();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!token && !(account && username && password)) {
    showError("Enter the API token, or an account name, a username and a password.");
    return;
  }
  if (!token) {
    token = await userToken(account, username, password);
    if (!token) return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    await start();
    for (const id of ["token", "password"]) $(id).value = "";
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn();
    showError(err.status === 401 ? "That API token is wrong: use the admin token of this calltape." : err.message);
  }
}

// Kazoo's user_auth: the SHA-1 hex of "username:password" (the username lower-cased); the password never leaves.
async function userToken(account, username, password) {
  if (!window.crypto || !crypto.subtle) {
    showError("Signing in as a user needs https (or localhost): use the API token here.");
    return "";
  }
  const bytes = new TextEncoder().encode(`${username.toLowerCase()}:${password}`);
  const digest = await crypto.subtle.digest("SHA-1", bytes);
  const credentials = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  const response = await fetch("/v2/user_auth", {
    method: "PUT",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ data: { credentials, method: "sha", account_name: account } }),
  });
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || !body.auth_token) {
    showError(
      response.status === 401
        ? "That account, username or password is wrong."
        : describeFailure(response.status, body),
    );
    return "";
  }
  return body.auth_token;
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  stopLive();
  closeDetail();
  showSignIn();
}

function showSignIn() {
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("token").focus();
}

async function start() {
  const accounts = (await api("/v2/accounts?paginate=false")).data || [];
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  const select = $("account");
  select.replaceChildren();
  for (const account of accounts) select.append(el("option", account.name || account.id, { value: account.id }));
  if (!accounts.length) {
    showError("There are no accounts yet: create one with PUT /v2/accounts.");
    return;
  }
  await chooseAccount(accounts[0].id);
}

async function chooseAccount(accountId) {
  state.account = accountId;
  $("account").value = accountId;
  closeDetail();
  await loadUsers();
  await search();
  startLive();
}

async function loadUsers() {
  const select = $("owner");
  select.replaceChildren(el("option", "Anyone", { value: "" }));
  state.users.clear();
  const users = (await api(accountPath("/users"))).data || [];
  for (const user of users) {
    const name = [user.first_name, user.last_name].filter(Boolean).join(" ") || user.username || user.id;
    state.users.set(user.id, name);
    select.append(el("option", name, { value: user.id }));
  }
}

// ---- the list -------------------------------------------------------------------------------------

function filterQuery() {
  const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
  const from = $("from").value;
  const to = $("to").value;
  if (from) query.set("created_from", String(Math.floor(new Date(from).getTime() / 1000)));
  if (to) query.set("created_to", String(Math.ceil(new Date(to).getTime() / 1000) + 59));
  if ($("number").value.trim()) query.set("number", $("number").value.trim());
  if ($("owner").value) query.set("owner_id", $("owner").value);
  if ($("state").value) query.set("state", $("state").value);
  return query;
}

async function search(event) {
  if (event) event.preventDefault();
  clearError();
  state.pages = [""];
  state.page = 0;
  await loadPage();
}

async function loadPage() {
  const query = filterQuery();
  const key = state.pages[state.page];
  if (key) query.set("start_key", key);
  const generation = ++state.listGeneration; // a slower, older answer must not replace a newer one
  const table = $("recordings");
  table.setAttribute("aria-busy", "true");
  let body;
  try {
    body = await api(accountPath(`/recordings?${query}`));
  } finally {
    if (generation === state.listGeneration) table.setAttribute("aria-busy", "false");
  }
  if (generation !== state.listGeneration) return;
  table.dataset.query = query.toString();
  state.nextKey = body.next_start_key || null;
  renderRows(body.data || []);
  $("newer").disabled = state.page === 0;
  $("older").disabled = !state.nextKey;
  $("page-label").textContent = `Page ${state.page + 1}`;
}

function renderRows(docs) {
  const tbody = $("recordings").querySelector("tbody");
  tbody.replaceChildren();
  state.rows.clear();
  for (const doc of docs) {
    state.rows.set(doc.id, doc);
    const row = el("tr", null, { "data-id": doc.id, "data-call-id": doc.call_id });
    if (doc.id === state.openId) row.classList.add("selected");
    row.append(el("td", when(doc.created)), el("td", callerOf(doc)), el("td", calleeOf(doc)));
    row.append(el("td", doc.state === "recording" ? "…" : seconds(doc.duration_ms)), el("td", doc.format));
    const stateCell = el("td");
    stateCell.append(stateBadge(doc.state));
    if (doc.attempts) stateCell.append(el("span", ` (${doc.attempts} attempt${doc.attempts > 1 ? "s" : ""})`));
    row.append(stateCell);
    const open = el("button", "Open", { type: "button", class: "open secondary" });
    open.setAttribute("aria-label", `Open the recording of ${when(doc.created)} from ${callerOf(doc)}`);
    open.addEventListener("click", () => guard(openRecording(doc.id)));
    const actions = el("td");
    actions.append(open);
    row.append(actions);
    tbody.append(row);
  }
  $("empty").hidden = docs.length > 0;
}

async function turnPage(step) {
  clearError();
  if (step > 0) {
    if (!state.nextKey) return;
    state.pages[state.page + 1] = state.nextKey;
  }
  state.page = Math.max(0, state.page + step);
  await loadPage();
}

// ---- one recording --------------------------------------------------------------------------------

async function openRecording(id) {
  clearError();
  const generation = ++state.openGeneration;
  const doc = (await api(accountPath(`/recordings/${encodeURIComponent(id)}`))).data;
  if (generation !== state.openGeneration) return;
  state.openId = id;
  for (const row of $("recordings").querySelectorAll("tbody tr")) {
    row.classList.toggle("selected", row.dataset.id === id);
  }
  $("detail").hidden = false;
  $("detail").dataset.id = id;
  renderFacts(doc);
  $("waveforms").replaceChildren();
  $("player").removeAttribute("src");
  $("player").load();
  if (doc.state === "recording" || !hasAudio(doc)) {
    $("audio-note").hidden = false;
    $("audio-note").textContent =
      doc.state === "recording" ? "Still recording: the audio is ready when the call ends." : audioGone(doc);
    $("download").hidden = true;
    return;
  }
  $("audio-note").hidden = true;
  const link = (await api(accountPath(`/recordings/${encodeURIComponent(id)}/audio_link`))).data;
  if (generation !== state.openGeneration) return;
  $("player").src = link.url;
  $("download").href = link.download_url;
  $("download").setAttribute("download", doc.name || "recording");
  $("download").hidden = false;
  drawWaveforms(link.url, doc, generation).catch((err) => showError(`The waveform could not be drawn: ${err.message}`));
}

function hasAudio(doc) {
  return doc.state !== "delivered" && doc.state !== "discarded";
}

function audioGone(doc) {
  if (doc.state === "delivered") return "Delivered: the audio is kept by its receiver, not here.";
  return "Discarded: shorter than record_min_sec, no audio was kept.";
}

function renderFacts(doc) {
  const facts = $("facts");
  facts.replaceChildren();
  const delivery = doc.delivery || {};
  const items = [
    ["Name", doc.name],
    ["Call ID", doc.call_id],
    ["Started", when(doc.created)],
    ["Caller", callerOf(doc)],
    ["Callee", calleeOf(doc)],
    ["User", doc.owner_id ? state.users.get(doc.owner_id) || doc.owner_id : ""],
    ["Duration", doc.state === "recording" ? "still recording" : seconds(doc.duration_ms)],
    ["Audio", `${doc.format}, ${doc.channels === 2 ? "stereo (left caller, right callee)" : "mono"}, ${doc.sample_rate} Hz`],
    ["Delivery", withoutPassword(delivery.url) || delivery.kind || ""],
    ["State", doc.state],
    ["Attempts", String(doc.attempts)],
  ];
  if (doc.last_error) items.push(["Last error", doc.last_error]);
  if (doc.delivered_at) items.push(["Delivered", when(doc.delivered_at)]);
  for (const [term, value] of items) {
    const dd = el("dd");
    if (term === "State") dd.append(stateBadge(value));
    else dd.textContent = value || "—";
    if (term === "State") dd.id = "detail-state";
    facts.append(el("dt", term), dd);
  }
  $("detail-title").textContent = `Recording ${doc.name}`;
  $("retry").disabled = doc.state !== "failed";
  $("delete").disabled = doc.state === "recording";
}

async function drawWaveforms(url, doc, generation) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`the audio answered ${response.status}`);
  const encoded = await response.arrayBuffer();
  const context = new OfflineAudioContext(doc.channels || 1, 1, doc.sample_rate || 8000);
  const audio = await context.decodeAudioData(encoded);
  if (generation !== state.openGeneration) return;
  const names = audio.numberOfChannels === 2 ? ["Left: caller", "Right: callee"] : ["Mono"];
  const box = $("waveforms");
  box.replaceChildren();
  for (let c = 0; c < audio.numberOfChannels; c++) {
    const figure = el("figure", null, { class: "waveform" });
    const canvas = el("canvas", null, { id: `waveform-${c}`, role: "img", "aria-label": `Waveform, ${names[c]}` });
    figure.append(el("figcaption", names[c] || `Channel ${c + 1}`, { class: "hint" }), canvas);
    box.append(figure);
    drawChannel(canvas, audio.getChannelData(c));
  }
  box.dataset.drawn = String(audio.numberOfChannels);
  box.dataset.duration = String(audio.duration);
}

function drawChannel(canvas, samples) {
  const width = Math.max(300, Math.floor(canvas.clientWidth * (window.devicePixelRatio || 1)));
  const height = 80;
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fafbfc";
  g.fillRect(0, 0, width, height);
  g.fillStyle = "#1f5fbf";
  const per = Math.max(1, Math.floor(samples.length / width));
  const middle = height / 2;
  for (let x = 0; x < width; x++) {
    let low = 0;
    let high = 0;
    const end = Math.min(samples.length, (x + 1) * per);
    for (let i = x * per; i < end; i++) {
      const s = samples[i];
      if (s < low) low = s;
      if (s > high) high = s;
    }
    const top = middle - high * middle;
    const span = Math.max(1, (high - low) * middle);
    g.fillRect(x, top, 1, span);
  }
}

async function retryDelivery() {
  clearError();
  const id = state.openId;
  const doc = (await api(accountPath(`/recordings/${encodeURIComponent(id)}/retry`), { method: "POST" })).data;
  renderFacts(doc);
  await watchDelivery(id);
}

async function watchDelivery(id) {
  // Until the retried delivery ends (delivered, stored or failed again), read the recording each second.
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (state.openId !== id) return;
    const doc = (await api(accountPath(`/recordings/${encodeURIComponent(id)}`))).data;
    renderFacts(doc);
    if (doc.state !== "pending") {
      await loadPage();
      if (doc.state === "failed") showError(`The delivery failed again: ${doc.last_error}`);
      return;
    }
  }
}

async function deleteRecording() {
  clearError();
  const doc = state.rows.get(state.openId);
  const name = doc ? doc.name : state.openId;
  if (!window.confirm(`Delete ${name}? Its audio and delivery state are removed for good.`)) return;
  await api(accountPath(`/recordings/${encodeURIComponent(state.openId)}`), { method: "DELETE" });
  closeDetail();
  await loadPage();
}

function closeDetail() {
  state.openId = null;
  state.openGeneration++;
  $("detail").hidden = true;
  $("player").removeAttribute("src");
  $("player").load();
  $("waveforms").replaceChildren();
  for (const row of $("recordings").querySelectorAll("tbody tr.selected")) row.classList.remove("selected");
}

// ---- live: active calls and the delivery queue -----------------------------------------------------

function startLive() {
  stopLive();
  const tick = async () => {
    try {
      await refreshLive();
    } catch (err) {
      if (err.status === 401) {
        signOut();
        showError(err.message);
        return;
      }
      showError(err.message);
    }
    state.liveTimer = setTimeout(tick, LIVE_INTERVAL_MS);
  };
  tick();
}

function stopLive() {
  if (state.liveTimer !== null) clearTimeout(state.liveTimer);
  state.liveTimer = null;
}

async function refreshLive() {
  const account = state.account;
  const [channels, queue] = await Promise.all([api(accountPath("/channels")), api(accountPath("/outbox"))]);
  if (account !== state.account) return;
  const calls = $("channels").querySelector("tbody");
  calls.replaceChildren();
  for (const call of channels.data || []) {
    const row = el("tr", null, { "data-call-id": call.call_id });
    const caller = call.caller_id_name ? `${call.caller_id_number} (${call.caller_id_name})` : call.caller_id_number;
    row.append(el("td", call.call_id), el("td", caller), el("td", call.destination));
    row.append(el("td", `${when(call.started)} (${Math.round(call.duration_s)} s)`), el("td", call.legs.length));
    row.append(el("td", call.recording ? "yes" : "no"));
    calls.append(row);
  }
  $("no-channels").hidden = (channels.data || []).length > 0;
  const waiting = $("queue").querySelector("tbody");
  waiting.replaceChildren();
  const now = Date.now() / 1000;
  for (const entry of queue.data || []) {
    const row = el("tr", null, { "data-id": entry.id });
    const next = entry.delivering ? "sending now" : entry.due_at <= now ? "due now" : `in ${Math.ceil(entry.due_at - now)} s`;
    const stateCell = el("td");
    stateCell.append(stateBadge(entry.state));
    row.append(el("td", entry.name), stateCell, el("td", entry.attempts), el("td", next));
    row.append(el("td", entry.last_error, { class: "error" }));
    waiting.append(row);
  }
  $("no-queue").hidden = (queue.data || []).length > 0;
  $("live-updated").textContent = `Last update ${new Date().toLocaleTimeString()}.`;
}

// ---- wiring ---------------------------------------------------------------------------------------

function guard(promise) {
  // Every action's failure ends as one line on the page.
  promise.catch((err) => {
    if (err.status === 401) signOut();
    showError(err.message || String(err));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in").addEventListener("submit", (e) => guard(signIn(e)));
  $("sign-out").addEventListener("click", signOut);
  $("filters").addEventListener("submit", (e) => guard(search(e)));
  $("account").addEventListener("change", (e) => guard(chooseAccount(e.target.value)));
  $("newer").addEventListener("click", () => guard(turnPage(-1)));
  $("older").addEventListener("click", () => guard(turnPage(1)));
  $("retry").addEventListener("click", () => guard(retryDelivery()));
  $("delete").addEventListener("click", () => guard(deleteRecording()));
  $("close-detail").addEventListener("click", closeDetail);
  $("player").addEventListener("error", () => {
    if ($("player").getAttribute("src")) showError("The audio could not be played: open the recording again.");
  });
  if (sessionStorage.getItem(TOKEN_KEY)) {
    start().catch((err) => {
      if (err.status === 401) sessionStorage.removeItem(TOKEN_KEY);
      showSignIn();
      showError(err.message);
    });
  } else {
    showSignIn();
  }
});
