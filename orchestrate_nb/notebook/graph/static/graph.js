// The run-graph view (anywidget ES module). The kernel sends the whole graph, already laid
// out (layer, row) and at most ~8 times a second; this view only draws it. Nodes are keyed
// by id so an update changes attributes in place instead of rebuilding the picture.
const SVG_NS = "http://www.w3.org/2000/svg";
const DEFAULT_BOX = { width: 176, height: 46, gap_x: 72, gap_y: 20, margin: 12 };
// The node states (mark, colour, final, unsuccessful) come from the kernel's table
// (notebook/graph/states.py, the model's `states`): this view keeps no copy of its own.
let FINAL = new Set();
let UNSUCCESSFUL = [];
let MARKS = {};

function useStates(table) {
  const entries = Object.entries(table || {});
  FINAL = new Set(entries.filter(([, s]) => s.final).map(([name]) => name));
  UNSUCCESSFUL = entries.filter(([, s]) => s.unsuccessful).map(([name]) => name);
  MARKS = Object.fromEntries(entries.map(([name, s]) => [name, s.mark]));
}

// The state colours as CSS: --onb-<state> on the graph, and --onb-state on whatever
// carries data-state (nodes, the header's pill, the log panel's heading).
function stateStyle(table) {
  const entries = Object.entries(table || {});
  const variable = (name) => `--onb-${name.replace(/ /g, "-")}`;
  const colours = entries.map(([name, s]) => `${variable(name)}: ${s.colour};`).join(" ");
  const rules = entries.map(([name]) =>
    `.onb-graph [data-state="${name}"] { --onb-state: var(${variable(name)}); }`);
  return [`.onb-graph { ${colours} }`, ...rules].join("\n");
}

function installStateStyle(table) {
  let style = document.getElementById("onb-graph-states");
  if (!style) {
    style = document.createElement("style");
    style.id = "onb-graph-states";
    document.head.append(style);
  }
  style.textContent = stateStyle(table);
}

function svgEl(tag, attrs = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

function htmlEl(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function clip(text, limit) {
  return text.length <= limit ? text : text.slice(0, limit - 1) + "…";
}

// An edge label that fits; a file path keeps its end (its file name), as svg.py's clip_label.
function clipLabel(text, limit) {
  if (text.length <= limit || !text.includes("/")) return clip(text, limit);
  const name = text.slice(text.lastIndexOf("/") + 1);
  return name.length + 2 <= limit ? "…/" + name : "…" + text.slice(text.length - limit + 1);
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}m ${String(Math.floor(seconds % 60)).padStart(2, "0")}s`;
}

function done(counts) {
  return Object.entries(counts).reduce((sum, [s, n]) => sum + (FINAL.has(s) ? n : 0), 0);
}

// Mirrors graph/nodes.node_detail in Python (the static SVG's second line).
export function nodeDetail(node, elapsed = 0) {
  if (node.detail) return node.detail; // said by whoever planned the node (why it is stale)
  const parts = [];
  if (node.counts) {
    parts.push(`${done(node.counts).toLocaleString()}/${node.runs.toLocaleString()}`);
    for (const s of UNSUCCESSFUL) if (node.counts[s]) parts.push(`${node.counts[s]} ${s}`);
  }
  const duration = node.duration === null ? null : node.duration + (node.running ? elapsed : 0);
  if (duration !== null) parts.push(formatDuration(duration));
  if (node.retries) parts.push(`${node.retries} retr${node.retries === 1 ? "y" : "ies"}`);
  if (node.stale) parts.push(String(node.stale));
  return parts.join(" · ");
}

function corner(node, box) {
  return [box.margin + node.layer * (box.width + box.gap_x),
          box.margin + node.row * (box.height + box.gap_y)];
}

function makeNode() {
  const g = svgEl("g", { class: "onb-node", "data-testid": "onb-node", tabindex: 0 });
  g.append(
    svgEl("title"),
    svgEl("rect", { class: "onb-node__box", rx: 6 }),
    svgEl("rect", { class: "onb-node__stripe", width: 6, rx: 3 }),
    svgEl("rect", { class: "onb-node__progress-bg", height: 3 }),
    svgEl("rect", { class: "onb-node__progress", height: 3 }),
    svgEl("text", { class: "onb-node__label", x: 14, y: 19 }),
    svgEl("text", { class: "onb-node__detail", x: 14, y: 36 }),
    svgEl("text", { class: "onb-node__badges", y: 19, "text-anchor": "end" }),
  );
  return g;
}

function badges(node) {
  const marks = [];
  if (node.cached && node.state !== "cached") marks.push(`⟳${node.cached}`);
  if (node.cached && node.state === "cached") marks.push("⟳ cached");
  if (node.retries) marks.push(`↻${node.retries}`);
  if (node.stale) marks.push("! stale");
  return marks.join(" ");
}

function updateNode(g, node, box, elapsed) {
  const [x, y] = corner(node, box);
  g.setAttribute("transform", `translate(${x},${y})`);
  g.dataset.nodeId = node.id;
  g.dataset.state = node.state;
  g.dataset.kind = node.kind;
  g.dataset.label = node.label;
  g.toggleAttribute("data-stale", Boolean(node.stale));
  g.toggleAttribute("data-cached", Boolean(node.cached));
  const [title, frame, stripe, track, bar, label, detail, marks] = g.children;
  const status = `${MARKS[node.state] || "?"} ${node.state}`;
  title.textContent = `${node.label}: ${node.state}${node.message ? ` — ${node.message}` : ""}`;
  for (const rect of [frame, stripe]) rect.setAttribute("height", box.height);
  frame.setAttribute("width", box.width);
  label.textContent = clip(node.label, 20);
  detail.textContent = clip(`${status} · ${nodeDetail(node, elapsed)}`.replace(/ · $/, ""), 30);
  marks.setAttribute("x", box.width - 6);
  marks.textContent = badges(node);
  const progress = node.counts ? done(node.counts) / Math.max(1, node.runs) : null;
  for (const rect of [track, bar]) {
    rect.setAttribute("x", 6);
    rect.setAttribute("y", box.height - 4);
    rect.style.display = progress === null ? "none" : "";
  }
  track.setAttribute("width", box.width - 8);
  bar.setAttribute("width", progress === null ? 0 : (box.width - 8) * progress);
}

function edgePath(up, down, box) {
  const [ux, uy] = corner(up, box);
  const [dx, dy] = corner(down, box);
  const x1 = ux + box.width, y1 = uy + box.height / 2, x2 = dx, y2 = dy + box.height / 2;
  const bend = Math.max(30, (x2 - x1) / 2);
  return [`M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`,
          (x1 + x2) / 2, (y1 + y2) / 2 - 4];
}

function summary(nodes) {
  const counts = {};
  for (const node of nodes) {
    const byState = node.counts || { [node.state]: 1 };
    for (const [s, n] of Object.entries(byState)) counts[s] = (counts[s] || 0) + n;
  }
  return Object.entries(counts).map(([s, n]) => `${n.toLocaleString()} ${s}`).join(" · ");
}

function render({ model, el }) {
  useStates(model.get("states"));
  installStateStyle(model.get("states"));
  const root = htmlEl("div", "onb-graph");
  root.dataset.testid = "onb-graph";
  const header = htmlEl("div", "onb-graph__header");
  const canvas = htmlEl("div", "onb-graph__canvas");
  const panel = htmlEl("div", "onb-graph__logs");
  panel.dataset.testid = "onb-logs";
  const svg = svgEl("svg", { class: "onb-graph__svg" });
  const defs = svgEl("defs");
  const marker = svgEl("marker", { id: `onb-arrow-${Math.random().toString(36).slice(2)}`,
    viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse" });
  marker.append(svgEl("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "onb-edge__head" }));
  defs.append(marker);
  const edgeLayer = svgEl("g", { class: "onb-edges" });
  const nodeLayer = svgEl("g", { class: "onb-nodes" });
  svg.append(defs, edgeLayer, nodeLayer);
  canvas.append(svg);
  root.append(header, canvas, panel);
  el.append(root);

  const nodeEls = new Map();
  const edgeEls = new Map();
  let graph = {};
  let byId = new Map();
  let receivedAt = performance.now();
  let hovered = null;
  let pinned = model.get("selected") || null;

  const elapsed = () => (performance.now() - receivedAt) / 1000;

  function drawHeader() {
    const flow = graph.flow || {};
    header.replaceChildren();
    const title = htmlEl("span", "onb-graph__title", flow.flow_name || "run graph");
    const run = htmlEl("span", "onb-graph__run", flow.name ? ` · ${flow.name}` : "");
    const state = htmlEl("span", "onb-graph__state", flow.state || "");
    state.dataset.state = flow.state || "";
    const running = flow.state && !FINAL.has(flow.state);
    const duration = flow.duration === null || flow.duration === undefined ? ""
      : formatDuration(flow.duration + (running ? elapsed() : 0));
    const facts = htmlEl("span", "onb-graph__facts",
      [duration, summary(graph.nodes || [])].filter(Boolean).join(" · "));
    header.append(title, run, state, facts);
  }

  function drawPanel() {
    const id = hovered || pinned;
    const node = id ? byId.get(id) : null;
    panel.replaceChildren();
    if (!node) {
      const flow = graph.flow || {};
      const text = flow.message || "Hover over or click a task to see its last log lines.";
      panel.append(htmlEl("div", "onb-graph__hint", text));
      return;
    }
    const head = htmlEl("div", "onb-graph__logs-head", `${node.label} — ${node.state}`);
    head.dataset.state = node.state;
    panel.append(head);
    if (node.error) {  // the exception and the user's last frame (graph_nodes.Node.failure)
      panel.append(htmlEl("div", "onb-graph__message", node.error.exception));
      panel.append(htmlEl("pre", "onb-graph__frame", node.error.frame));
    } else if (node.message) {
      panel.append(htmlEl("div", "onb-graph__message", node.message));
    }
    const logs = node.logs && node.logs.length ? node.logs : null;
    if (logs || !node.error) {
      panel.append(htmlEl("pre", "onb-graph__log-lines", (logs || ["(no log lines)"]).join("\n")));
    }
  }

  function select(id, pin) {
    if (pin) {
      pinned = pinned === id ? null : id;
      model.set("selected", pinned);
      model.save_changes();
    } else {
      hovered = id;
    }
    for (const [key, g] of nodeEls) g.classList.toggle("onb-node--selected", key === pinned);
    drawPanel();
  }

  function nodeElement(node) {
    let g = nodeEls.get(node.id);
    if (!g) {
      g = makeNode();
      const id = node.id;
      g.addEventListener("mouseenter", () => select(id, false));
      g.addEventListener("mouseleave", () => select(null, false));
      g.addEventListener("click", () => select(id, true));
      nodeEls.set(id, g);
      nodeLayer.append(g);
    }
    return g;
  }

  function drawEdges(box) {
    const seen = new Set();
    for (const [up, down, label] of graph.edges || []) {
      const a = byId.get(up), b = byId.get(down);
      if (!a || !b) continue;
      const key = `${up}\u2192${down}`;
      seen.add(key);
      let pair = edgeEls.get(key);
      if (!pair) {
        const text = svgEl("text", { class: "onb-edge__label", "text-anchor": "middle" });
        text.addEventListener("mouseenter", () => { text.textContent = text.dataset.full; });
        text.addEventListener("mouseleave", () => {
          text.textContent = clipLabel(text.dataset.full, 12);
        });
        pair = [svgEl("path", { class: "onb-edge", "marker-end": `url(#${marker.id})` }), text];
        edgeEls.set(key, pair);
        edgeLayer.append(...pair);
      }
      const [d, x, y] = edgePath(a, b, box);
      pair[0].setAttribute("d", d);
      pair[1].setAttribute("x", x);
      pair[1].setAttribute("y", y);
      pair[1].textContent = clipLabel(label, 12); // what fits between two layers
      pair[1].dataset.full = label;
    }
    for (const [key, pair] of edgeEls) {
      if (!seen.has(key)) { pair.forEach((e) => e.remove()); edgeEls.delete(key); }
    }
  }

  function drawNodes(box) {
    const seen = new Set();
    for (const node of graph.nodes || []) {
      seen.add(node.id);
      updateNode(nodeElement(node), node, box, 0);
    }
    for (const [id, g] of nodeEls) if (!seen.has(id)) { g.remove(); nodeEls.delete(id); }
    for (const [key, g] of nodeEls) g.classList.toggle("onb-node--selected", key === pinned);
  }

  function resize(box) {
    const nodes = graph.nodes || [];
    const layers = 1 + Math.max(0, ...nodes.map((n) => n.layer));
    const rows = 1 + Math.max(0, ...nodes.map((n) => n.row));
    const width = 2 * box.margin + layers * box.width + (layers - 1) * box.gap_x;
    const height = 2 * box.margin + rows * box.height + (rows - 1) * box.gap_y;
    // Shrink a wide graph to the cell's width, down to 60%; past that, scroll.
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.style.width = "100%";
    svg.style.maxWidth = `${width}px`;
    svg.style.minWidth = `${Math.round(width * 0.6)}px`;
  }

  function draw() {
    graph = model.get("graph") || {};
    receivedAt = performance.now();
    byId = new Map((graph.nodes || []).map((n) => [n.id, n]));
    const box = model.get("box") || DEFAULT_BOX;
    resize(box);
    drawNodes(box);
    drawEdges(box);
    drawHeader();
    drawPanel();
  }

  // Running nodes' durations tick between updates from the kernel.
  function tick() {
    const box = model.get("box") || DEFAULT_BOX;
    const running = (graph.nodes || []).filter((n) => n.running);
    for (const node of running) updateNode(nodeEls.get(node.id), node, box, elapsed());
    if (graph.flow && graph.flow.state && !FINAL.has(graph.flow.state)) drawHeader();
  }

  model.on("change:graph", draw);
  draw();
  const timer = setInterval(tick, 250);
  return () => {
    clearInterval(timer);
    model.off("change:graph", draw);
  };
}

export default { render };
