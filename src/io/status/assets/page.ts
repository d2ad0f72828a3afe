/**
 * The status page's HTML and stylesheet. The page loads nothing from
 * anywhere but the proxy's admin listener (`status.css`, `status.js`,
 * `status.json`, relative so a path prefix in front of the admin port works),
 * and the admin server's Content-Security-Policy holds it to that.
 */

export const statusHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meta-proxy status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="status.css">
<script type="module" src="status.js"></script>
</head>
<body>
<header class="top">
  <div class="brand"><strong>meta-proxy</strong> <span id="instance">&hellip;</span></div>
  <dl class="facts">
    <div><dt>version</dt><dd id="version">&hellip;</dd></div>
    <div><dt>uptime</dt><dd id="uptime">&hellip;</dd></div>
    <div><dt>ZooKeeper</dt><dd id="zookeeper">&hellip;</dd></div>
    <div><dt>ready</dt><dd id="ready">&hellip;</dd></div>
    <div><dt>client connections</dt><dd id="connections">&hellip;</dd></div>
    <div><dt>queries / s</dt><dd id="query-rate">&hellip;</dd></div>
    <div><dt>errors / s</dt><dd id="error-rate">&hellip;</dd></div>
    <div><dt>cached routes</dt><dd id="route-count">&hellip;</dd></div>
  </dl>
  <ul id="not-ready" hidden></ul>
  <p id="live" class="live"><span id="live-text">connecting&hellip;</span></p>
</header>
<main>
  <noscript><p class="note">This page needs JavaScript. The same data is at <a href="status.json">status.json</a>.</p></noscript>
  <p id="rates-note" class="note" hidden></p>
  <section id="traffic">
    <h2>Traffic, last 10 minutes <span class="legend"><span class="key change"></span> route change</span></h2>
    <div class="charts">
      <figure class="chart" id="chart-queries"><figcaption>queries / s <b class="now"></b></figcaption></figure>
      <figure class="chart" id="chart-errors"><figcaption>errors / s <b class="now"></b></figcaption></figure>
      <figure class="chart" id="chart-p99"><figcaption>p99 latency <b class="now"></b></figcaption></figure>
    </div>
  </section>
  <section>
    <h2>Tables</h2>
    <div class="controls">
      <input id="filter" type="search" placeholder="Filter by table, cluster or meta" autocomplete="off" spellcheck="false" aria-label="Filter tables">
      <label>Sort
        <select id="sort">
          <option value="table">table name</option>
          <option value="rate">query rate</option>
          <option value="errors">errors</option>
          <option value="p99">p99 latency</option>
          <option value="changed">last change</option>
        </select>
      </label>
      <label>Rows
        <select id="size">
          <option value="25">25</option>
          <option value="100" selected>100</option>
          <option value="500">500</option>
        </select>
      </label>
      <span class="pager">
        <button id="prev" type="button">&lsaquo; Prev</button>
        <span id="page-info"></span>
        <button id="next" type="button">Next &rsaquo;</button>
      </span>
    </div>
    <table class="grid" id="tables">
      <thead><tr>
        <th>Table</th><th>Kind</th><th>Cluster</th><th>Metas (&#9733; leader)</th><th>Stale</th><th class="num">Version</th>
        <th>Changed</th><th title="Client hosts that asked for the table; after a route change, how many of those that asked in the hour before it have asked again and were answered by the new cluster">Client hosts</th>
        <th class="num">Queries / s</th><th>Errors, last minute</th><th class="num">p99</th>
        <th title="Last 10 minutes: queries / s (blue) and errors / s (red); p99 latency (purple); route changes dashed">Last 10 min</th>
      </tr></thead>
      <tbody id="table-rows"></tbody>
    </table>
  </section>
  <section>
    <h2>Fleet</h2>
    <p id="fleet-note" class="muted" hidden></p>
    <table class="grid" id="fleet">
      <thead><tr><th>Instance</th><th>Client address</th><th>Status page</th><th>Version</th><th class="num">PID</th><th>Started</th><th>Ready</th></tr></thead>
      <tbody id="fleet-rows"></tbody>
    </table>
  </section>
  <section>
    <h2>Clusters</h2>
    <table class="grid" id="clusters">
      <thead><tr><th>Cluster</th><th class="num">Tables</th><th>Meta</th><th>Leader</th><th>Upstream calls, last minute</th></tr></thead>
      <tbody id="cluster-rows"></tbody>
    </table>
  </section>
  <section>
    <h2>Recent route changes</h2>
    <table class="grid" id="changes">
      <thead><tr><th>Time</th><th>Table</th><th>From</th><th></th><th>To</th><th class="num">Reroutes</th></tr></thead>
      <tbody id="change-rows"></tbody>
    </table>
  </section>
</main>
<footer>
  The page asks the proxy for <a href="status.json">status.json</a> every second while it is open.
  Also: <a href="tables">tables</a> &middot; <a href="metrics">metrics</a> &middot; <a href="readyz">readyz</a>
</footer>
</body>
</html>
`;

export const statusCss = `:root {
  --ink: #1d2330; --muted: #5d6677; --line: #dde1e8; --bg: #f6f7f9; --card: #fff;
  --ok: #1a7f37; --bad: #c62828; --warn: #a15c00; --accent: #2457c5; --top: #1f2a3d;
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
body { margin: 0; }
a { color: var(--accent); }
.top { background: var(--top); color: #e8ecf3; padding: 12px 20px 10px; }
.brand { font-size: 18px; }
.brand #instance { color: #aeb8c9; font-size: 14px; margin-left: 8px; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 10px 0 4px; }
.facts div { min-width: 90px; }
.facts dt { color: #aeb8c9; font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
.facts dd { margin: 0; font-size: 16px; font-variant-numeric: tabular-nums; }
#not-ready { margin: 6px 0 0; padding-left: 18px; color: #ffb4a9; }
.live { margin: 6px 0 0; font-size: 12px; color: #aeb8c9; }
.live::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%; background: #7d8797; margin-right: 6px; }
.live.ok::before { background: #3fb950; }
.live.failed { color: #ffb4a9; }
.live.failed::before { background: #f85149; }
main { padding: 4px 20px 12px; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; margin: 14px 0; padding: 10px 14px 12px; overflow-x: auto; }
h2 { font-size: 15px; margin: 2px 0 8px; }
.note { background: #fff8e1; border: 1px solid #f1d38a; border-radius: 6px; padding: 8px 12px; margin: 14px 0 0; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; margin-bottom: 8px; }
.controls input { flex: 1 1 260px; max-width: 420px; padding: 5px 8px; border: 1px solid #b9c0cc; border-radius: 4px; font: inherit; }
.controls select, .controls button { font: inherit; padding: 3px 6px; }
.pager { display: inline-flex; gap: 8px; align-items: center; color: var(--muted); }
table.grid { border-collapse: collapse; width: 100%; }
.grid th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 2px solid var(--line); padding: 4px 8px; white-space: nowrap; }
.grid td { border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
.grid .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.grid tr.recent td { background: #e8f1ff; }
.grid .empty { color: var(--muted); font-style: italic; }
.mono, .meta { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.meta { display: inline-block; margin-right: 8px; white-space: nowrap; color: var(--muted); }
.meta.leader { color: var(--ink); font-weight: 600; }
.meta.leader::before { content: "\\2605 "; color: #d29922; }
.badge { display: inline-block; padding: 0 6px; border-radius: 9px; font-size: 12px; line-height: 18px; background: #eef0f4; color: var(--muted); white-space: nowrap; }
.badge.ok { background: #dafbe1; color: var(--ok); }
.badge.bad { background: #ffebe9; color: var(--bad); }
.badge.warn { background: #fff1d6; color: var(--warn); }
.top .badge { font-size: 14px; line-height: 20px; }
.chip { display: inline-block; margin: 0 6px 2px 0; font-size: 12px; white-space: nowrap; }
.chip b { font-weight: 600; }
.chip.bad { color: var(--bad); }
.muted { color: var(--muted); }
.arrow { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding: 0 20px 20px; }
.charts { display: flex; flex-wrap: wrap; gap: 10px 28px; }
.chart { margin: 0; }
.chart figcaption { font-size: 12px; color: var(--muted); margin-bottom: 2px; }
.chart figcaption b { color: var(--ink); font-weight: 600; margin-left: 4px; font-variant-numeric: tabular-nums; }
.legend { font-size: 12px; font-weight: normal; color: var(--muted); margin-left: 12px; }
.legend .key.change { display: inline-block; width: 0; height: 10px; border-left: 1px dashed var(--warn); margin: 0 4px -1px 0; }
svg.spark { display: block; overflow: visible; }
svg.spark rect.frame { fill: #f8f9fb; stroke: var(--line); stroke-width: 1; }
svg.spark path.line { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
svg.spark path.queries { stroke: var(--accent); }
svg.spark path.errors { stroke: var(--bad); }
svg.spark path.p99 { stroke: #8250df; }
svg.spark line.change { stroke: var(--warn); stroke-width: 1; stroke-dasharray: 3 2; }
svg.spark text.empty { fill: var(--muted); font-size: 10px; }
td.charts-cell { padding-top: 3px; padding-bottom: 3px; white-space: nowrap; }
td.charts-cell svg.spark { display: inline-block; margin-right: 4px; vertical-align: middle; }
.followed { white-space: nowrap; }
`;
