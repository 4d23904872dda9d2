// The page of `ncf serve`: learning curves that grow while a trainer writes
// into the model folder, a known user's history and recommendations, and a
// new user folded in from a few picked items. Plain modern JS, no build
// step; uPlot (assets/uPlot.iife.min.js) draws the chart. The page's state
// is its URL: `?user=196&items=50,181`.

/** How often the learning curve is polled, in milliseconds. */
const POLL_MS = 1000;
/** Recommendations shown. */
const TOP_K = 10;
/** Matches listed by a search. */
const SEARCH_LIMIT = 10;

const $ = (id) => document.getElementById(id);

/** The page's state, mirrored in the URL. */
const state = {
  /** The user shown (their id as text), or "". */
  user: "",
  /** The new user's picked items: `{ item, title? }` as the API gives them. */
  items: [],
};

// ---------------------------------------------------------------- the API

/** GETs or POSTs `path` (relative to the page) and returns its JSON; throws the API's message. */
async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Error("Cannot reach the server: is `ncf serve` still running?");
  }
  let json;
  try {
    json = await response.json();
  } catch {
    throw new Error(`Cannot read the answer to ${path}: HTTP ${response.status}, not JSON`);
  }
  if (!response.ok) throw new Error(json.error ?? `HTTP ${response.status}`);
  return json;
}

const enc = encodeURIComponent;

// ------------------------------------------------------------ the helpers

function showError(id, error) {
  const el = $(id);
  if (error === undefined) {
    el.hidden = true;
    el.textContent = "";
  } else {
    el.textContent = error instanceof Error ? error.message : String(error);
    el.hidden = false;
  }
}

/** A table cell with `text` (and a class). */
function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

/** The rows of recommendations `recs` into table body `tbody`. */
function fillRecommendations(tbody, recs) {
  tbody.replaceChildren(...recs.map((r, n) => {
    const tr = document.createElement("tr");
    tr.dataset.item = String(r.item);
    const score = cell("", "num");
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = r.score;
    meter.setAttribute("aria-hidden", "true");
    score.append(meter, r.score.toFixed(3));
    tr.append(cell(String(n + 1), "num"), cell(String(r.item), "id"), cell(r.title ?? ""), score);
    return tr;
  }));
}

/** Runs `fn` at most once per `ms` of quiet. */
function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** Writes the state into the URL (replacing the history entry). */
function writeUrl() {
  const parts = [];
  if (state.user !== "") parts.push(`user=${enc(state.user)}`);
  if (state.items.length > 0) {
    parts.push(`items=${state.items.map((i) => enc(String(i.item))).join(",")}`);
  }
  const search = parts.length === 0 ? "" : `?${parts.join("&")}`;
  if (search !== location.search) {
    history.replaceState(null, "", `${location.pathname}${search}`);
  }
}

/** The state in the URL: the user, and the picked item ids (as text). */
function readUrl() {
  const params = new URLSearchParams(location.search);
  const items = location.search.match(/[?&]items=([^&]*)/)?.[1] ?? "";
  return {
    user: params.get("user") ?? "",
    items: items.split(",").filter((s) => s !== "").map((s) => decodeURIComponent(s)),
  };
}

// --------------------------------------------------------- the curves

const curves = {
  /** The uPlot chart, once drawn. */
  chart: undefined,
  /** What was drawn last (epoch and evaluations), to redraw only on change. */
  drawn: "",
  /** The epoch served, to refresh the user's recommendations when it changes. */
  epoch: undefined,
  /** The epochs the run is set to train (the x axis reaches them). */
  trainEpochs: 1,
  /** The cut-off K the chart's labels name. */
  k: undefined,
};

/** The legend's x without a cursor: the last evaluation's epoch. */
function lastEpochText(u) {
  const last = u.data[0].at(-1);
  return last === undefined ? "--" : `${last} (last)`;
}

/** A line of the chart; its legend shows the last value until the cursor points at another. */
function metricSeries(label, scale, stroke) {
  return {
    label,
    scale,
    stroke,
    width: 2,
    points: { show: true, size: 7 },
    value: (u, v, s, idx) => (idx == null ? u.data[s].at(-1) : v)?.toFixed(4) ?? "--",
  };
}

/** The chart's options; `k` is the cut-off of HR and NDCG. */
function chartOptions(width, k) {
  return {
    width,
    height: 300,
    scales: {
      x: {
        time: false,
        range: (_u, min, max) => [
          Math.min(1, min ?? 1),
          Math.max(2, max ?? 1, curves.trainEpochs),
        ],
      },
      metric: { range: [0, 1] },
      loss: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    series: [
      {
        label: "epoch",
        value: (u, v, _s, idx) => idx == null ? lastEpochText(u) : String(v),
      },
      metricSeries(`HR@${k}`, "metric", "#2563eb"),
      metricSeries(`NDCG@${k}`, "metric", "#059669"),
      { ...metricSeries("loss", "loss", "#dc2626"), dash: [6, 4] },
    ],
    axes: [
      { label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] },
      { scale: "metric", label: `HR@${k}, NDCG@${k}` },
      { scale: "loss", side: 1, label: "loss", grid: { show: false } },
    ],
  };
}

function drawCurves(training) {
  const history = training.history;
  const key = `${training.epoch}:${history.length}:${history.at(-1)?.epoch ?? ""}`;
  const k = history.at(-1)?.byK?.[0]?.k ?? 10;
  $("model-line").textContent =
    `${training.model} on ${training.dataset} · epoch ${training.epoch}` +
    ` of ${training.train_epochs} served` +
    (training.protocol === null ? "" : ` · ${training.protocol} protocol`) +
    (training.finished ? " · finished early" : "");
  if (key === curves.drawn) return;
  curves.drawn = key;
  curves.trainEpochs = training.train_epochs;
  const data = [
    history.map((r) => r.epoch),
    history.map((r) => r.hr),
    history.map((r) => r.ndcg),
    history.map((r) => r.loss),
  ];
  const el = $("curves");
  const width = Math.max(300, el.clientWidth);
  if (curves.chart === undefined || curves.k !== k) {
    curves.chart?.destroy();
    curves.chart = new uPlot(chartOptions(width, k), data, el);
    curves.k = k;
  } else {
    curves.chart.setData(data);
  }
  el.dataset.points = String(history.length);
  el.dataset.epoch = String(training.epoch);
  $("curves-empty").hidden = history.length > 0;
  $("curves-hr").textContent = `HR@${k}`;
  $("curves-ndcg").textContent = `NDCG@${k}`;
  $("curves-table").tBodies[0].replaceChildren(...history.map((r) => {
    const tr = document.createElement("tr");
    tr.append(
      cell(String(r.epoch)),
      cell(r.hr.toFixed(4)),
      cell(r.ndcg.toFixed(4)),
      cell(r.loss.toFixed(4)),
    );
    return tr;
  }));
}

async function pollTraining() {
  try {
    const training = await api("v1/training");
    showError("curves-error");
    drawCurves(training);
    if (curves.epoch !== undefined && curves.epoch !== training.epoch && state.user !== "") {
      void showUser(state.user, { quiet: true });
    }
    curves.epoch = training.epoch;
  } catch (e) {
    showError("curves-error", e);
  } finally {
    setTimeout(pollTraining, POLL_MS);
  }
}

new ResizeObserver(() => {
  const width = Math.max(300, $("curves").clientWidth);
  if (curves.chart !== undefined && curves.chart.width !== width) {
    curves.chart.setSize({ width, height: 300 });
  }
}).observe($("curves"));

// ------------------------------------------------------------ a user

/** Counts user requests, so a slow answer never overwrites a newer one. */
let userRequest = 0;

async function showUser(user, options = {}) {
  const id = user.trim();
  const request = ++userRequest;
  state.user = id;
  writeUrl();
  $("user-input").value = id;
  if (id === "") return;
  if (options.quiet !== true) showError("user-error");
  try {
    const [recs, detail] = await Promise.all([
      api(`v1/users/${enc(id)}/recommendations?k=${TOP_K}`),
      api(`v1/users/${enc(id)}`),
    ]);
    if (request !== userRequest) return;
    showError("user-error");
    $("user-recs-for").textContent = `for user ${recs.user}`;
    fillRecommendations($("user-recs").tBodies[0], recs.recommendations);
    const rows = detail.items.map((i) => ({ ...i, heldOut: false }));
    if (detail.held_out !== null) rows.unshift({ ...detail.held_out, heldOut: true });
    $("user-history-count").textContent = `(${detail.items.length} training items` +
      (detail.held_out === null ? ")" : ", 1 held out for the test)");
    $("user-history").tBodies[0].replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.item = String(r.item);
      const split = cell("");
      if (r.heldOut) {
        tr.className = "held-out";
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "test";
        split.append(badge);
      } else {
        split.textContent = "train";
      }
      tr.append(cell(String(r.item), "id"), cell(r.title ?? ""), split);
      return tr;
    }));
  } catch (e) {
    if (request !== userRequest) return;
    showError("user-error", e);
    $("user-recs-for").textContent = "";
    $("user-history-count").textContent = "";
    $("user-recs").tBodies[0].replaceChildren();
    $("user-history").tBodies[0].replaceChildren();
  }
}

$("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void showUser($("user-input").value);
});

$("random-user").addEventListener("click", async () => {
  try {
    const { total } = await api("v1/users?limit=1");
    const offset = Math.floor(Math.random() * total);
    const { users } = await api(`v1/users?offset=${offset}&limit=1`);
    if (users.length > 0) await showUser(String(users[0].user));
  } catch (e) {
    showError("user-error", e);
  }
});

$("user-input").addEventListener(
  "input",
  debounce(async () => {
    const text = $("user-input").value.trim();
    try {
      const { users } = await api(`v1/users?query=${enc(text)}&limit=${SEARCH_LIMIT}`);
      $("user-suggestions").replaceChildren(...users.map((u) => {
        const option = document.createElement("option");
        option.value = String(u.user);
        option.label = `${u.items} items`;
        return option;
      }));
    } catch {
      // Suggestions are a convenience: "Show" reports errors.
    }
  }, 150),
);

// --------------------------------------------------------- a new user

function renderPicked() {
  $("picked").replaceChildren(...state.items.map((it, n) => {
    const li = document.createElement("li");
    li.dataset.item = String(it.item);
    const label = document.createElement("span");
    label.textContent = it.title === undefined ? String(it.item) : `${it.title}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${it.title ?? it.item}`);
    remove.addEventListener("click", () => {
      state.items.splice(n, 1);
      renderPicked();
    });
    li.append(label, remove);
    return li;
  }));
  markPicked();
  $("picked-empty").hidden = state.items.length > 0;
  $("recommend").disabled = state.items.length === 0;
  $("clear-items").disabled = state.items.length === 0;
  writeUrl();
}

/** Disables "Add" on the search results already picked. */
function markPicked() {
  const picked = new Set(state.items.map((it) => String(it.item)));
  for (const li of $("item-results").children) {
    const add = li.querySelector("button");
    const done = picked.has(li.dataset.item);
    add.disabled = done;
    add.textContent = done ? "Added" : "Add";
  }
}

function pick(item) {
  if (state.items.some((it) => String(it.item) === String(item.item))) return;
  state.items.push(item);
  renderPicked();
}

let searchRequest = 0;

async function searchItems() {
  const text = $("item-search").value;
  const request = ++searchRequest;
  try {
    const { items, total } = await api(`v1/items?query=${enc(text)}&limit=${SEARCH_LIMIT}`);
    if (request !== searchRequest) return;
    showError("new-user-error");
    const list = $("item-results");
    list.setAttribute("aria-label", `Matching items: ${total}`);
    list.replaceChildren(...items.map((it) => {
      const li = document.createElement("li");
      li.dataset.item = String(it.item);
      const add = document.createElement("button");
      add.type = "button";
      add.textContent = "Add";
      add.setAttribute("aria-label", `Add ${it.title ?? it.item}`);
      add.addEventListener("click", () => pick(it));
      const id = document.createElement("span");
      id.className = "id";
      id.textContent = String(it.item);
      const title = document.createElement("span");
      title.textContent = it.title ?? "";
      li.append(add, id, title);
      return li;
    }));
    markPicked();
  } catch (e) {
    if (request === searchRequest) showError("new-user-error", e);
  }
}

$("item-search").addEventListener("input", debounce(searchItems, 150));
$("item-search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void searchItems();
});

async function recommendNewUser() {
  const tbody = $("new-user-recs").tBodies[0];
  try {
    const { recommendations } = await api("v1/recommendations", {
      items: state.items.map((it) => it.item),
      k: TOP_K,
    });
    showError("new-user-error");
    fillRecommendations(tbody, recommendations);
  } catch (e) {
    showError("new-user-error", e);
    tbody.replaceChildren();
  }
}

$("recommend").addEventListener("click", () => void recommendNewUser());
$("clear-items").addEventListener("click", () => {
  state.items = [];
  renderPicked();
  $("new-user-recs").tBodies[0].replaceChildren();
});

// ------------------------------------------------------------ start

async function start() {
  const initial = readUrl();
  state.user = initial.user;
  state.items = initial.items.map((id) => ({ item: id }));
  renderPicked();
  void pollTraining();
  void searchItems();
  if (initial.user !== "") void showUser(initial.user);
  if (state.items.length > 0) {
    // Titles of the linked items: an id's exact match comes first in a search.
    const found = await Promise.all(initial.items.map(async (id) => {
      try {
        const { items } = await api(`v1/items?query=${enc(id)}&limit=1`);
        return items.length > 0 && String(items[0].item) === id ? items[0] : { item: id };
      } catch {
        return { item: id };
      }
    }));
    if (state.items.every((it, n) => String(it.item) === initial.items[n])) {
      state.items = found;
      renderPicked();
    }
    await recommendNewUser();
  }
}

void start();
