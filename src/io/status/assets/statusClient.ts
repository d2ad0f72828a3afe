/**
 * The status page's script, run by the browser (served as `status.js`). It
 * polls `status.json` every second with the filter, sort and page in the
 * address bar's fragment, and redraws the page from each answer. Every value
 * goes into the page as text, never as markup: table and cluster names come
 * from ZooKeeper nodes.
 */
import type {
  StatusChange,
  StatusCluster,
  StatusDocument,
  StatusFleetInstance,
  StatusHistory,
  StatusMeta,
  StatusRouteEnd,
  StatusTableRow,
} from '../../../model/statusTypes.js';
import type { ClientCounts } from '../../../model/clientHostTypes.js';

const POLL_MS = 1000;
const REQUEST_TIMEOUT_MS = 5000;
/** Rows whose route changed this recently are highlighted. */
const RECENT_MS = 15_000;
/** What the charts span. */
const HISTORY_MS = 10 * 60_000;

interface ViewState {
  filter: string;
  sort: string;
  size: number;
  page: number;
}

const view: ViewState = { filter: '', sort: 'table', size: 100, page: 1 };

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`the status page has no element #${id}`);
  return found as T;
}

function el(tag: string, className?: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className !== undefined && className !== '') node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className !== undefined) td.className = className;
  return td;
}

function badge(text: string, tone: '' | 'ok' | 'bad' | 'warn', title?: string): HTMLElement {
  const node = el('span', `badge ${tone}`.trim(), text);
  if (title !== undefined) node.title = title;
  return node;
}

// ---- formatting -----------------------------------------------------------

function formatRate(value: number | null): string {
  if (value === null) return '–';
  if (value === 0) return '0';
  if (value < 0.1) return value.toFixed(3);
  if (value < 10) return value.toFixed(2);
  if (value < 1000) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

function formatMs(value: number | null, above = false): string {
  if (value === null) return '–';
  const text = value >= 1000 ? `${(value / 1000).toFixed(2)} s` : value >= 10 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`;
  return above ? `> ${text}` : text;
}

function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  if (minutes > 0) return `${minutes} min ${s % 60} s`;
  return `${s} s`;
}

function formatTime(iso: string): string {
  const time = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
}

function formatAgo(iso: string, now: number): string {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  return seconds < 90 * 60 ? `${formatDuration(seconds)} ago` : new Date(iso).toLocaleString();
}

function describeEnd(end: StatusRouteEnd): string {
  return end.kind === 'route' ? (end.cluster ?? '') : `(${end.kind})`;
}

// ---- the view state lives in the fragment, so a reload or a shared link keeps it

function readFragment(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  view.filter = params.get('filter') ?? '';
  view.sort = params.get('sort') ?? 'table';
  const size = Number(params.get('size'));
  view.size = [25, 100, 500].includes(size) ? size : 100;
  const page = Number(params.get('page'));
  view.page = Number.isInteger(page) && page > 0 ? page : 1;
}

function writeFragment(): void {
  const params = new URLSearchParams();
  if (view.filter !== '') params.set('filter', view.filter);
  if (view.sort !== 'table') params.set('sort', view.sort);
  if (view.size !== 100) params.set('size', String(view.size));
  if (view.page !== 1) params.set('page', String(view.page));
  const fragment = params.toString();
  history.replaceState(null, '', fragment === '' ? location.pathname + location.search : `#${fragment}`);
}

// ---- rendering ----------------------------------------------------------

function renderHeader(doc: StatusDocument): void {
  byId('instance').textContent = `${doc.instance.host} · pid ${doc.instance.pid}`;
  byId('version').textContent = doc.version;
  byId('uptime').textContent = formatDuration(doc.uptimeSeconds);
  byId('uptime').title = `started ${new Date(doc.startedAt).toLocaleString()}`;

  const zk = byId('zookeeper');
  zk.replaceChildren(
    doc.zookeeper === null
      ? badge('not used (routes file)', '')
      : badge(doc.zookeeper.state, doc.zookeeper.state === 'connected' ? 'ok' : 'bad'),
  );
  byId('ready').replaceChildren(doc.ready.ready ? badge('ready', 'ok') : badge('not ready', 'bad'));
  const reasons = byId('not-ready');
  reasons.replaceChildren(...doc.ready.reasons.map((reason) => el('li', '', reason)));
  reasons.hidden = doc.ready.ready;

  byId('connections').textContent = doc.connections.toLocaleString('en-US');
  byId('query-rate').textContent = formatRate(doc.rates.queryRate);
  byId('error-rate').textContent = formatRate(doc.rates.errorRate);
  const kinds = Object.entries(doc.routes.byKind)
    .map(([kind, count]) => `${count} ${kind}`)
    .join(', ');
  byId('route-count').textContent = `${doc.routes.total.toLocaleString('en-US')}${doc.routes.stale > 0 ? ` (${doc.routes.stale} stale)` : ''}`;
  byId('route-count').title = kinds;

  const note = byId('rates-note');
  note.hidden = doc.rates.available;
  note.textContent = doc.rates.available ? '' : `Rates unavailable: ${doc.rates.reason ?? ''}`;
}

function renderTables(doc: StatusDocument): void {
  const now = Date.parse(doc.now);
  const body = byId<HTMLTableSectionElement>('table-rows');
  const rows = doc.tables.rows.map((row) => tableRow(row, now));
  if (rows.length === 0) {
    const empty = document.createElement('tr');
    cell(empty, doc.routes.total === 0 ? 'No cached routes yet: a table is cached when a client first asks for it.' : 'No table matches the filter.', 'empty').colSpan = 12;
    rows.push(empty);
  }
  body.replaceChildren(...rows);

  const { page, pages, pageSize, matched } = doc.tables;
  view.page = page;
  const first = matched === 0 ? 0 : (page - 1) * pageSize + 1;
  byId('page-info').textContent = `${first}–${Math.min(page * pageSize, matched)} of ${matched.toLocaleString('en-US')} · page ${page} / ${pages}`;
  byId<HTMLButtonElement>('prev').disabled = page <= 1;
  byId<HTMLButtonElement>('next').disabled = page >= pages;
}

function tableRow(row: StatusTableRow, now: number): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.table = row.table;
  if (now - Date.parse(row.changedAt) < RECENT_MS) tr.className = 'recent';
  cell(tr, row.table, 'mono');
  const kind = tr.insertCell();
  kind.append(badge(row.kind, row.kind === 'route' ? 'ok' : row.kind === 'missing' ? 'warn' : 'bad', row.reason ?? undefined));
  const cluster = cell(tr, row.cluster ?? '–');
  cluster.dataset.col = 'cluster';
  tr.insertCell().append(...metaList(row.metas, row.leader));
  const stale = tr.insertCell();
  if (row.stale) stale.append(badge('stale', 'warn', 'served from cache: ZooKeeper (or the routes file) cannot confirm this route'));
  cell(tr, row.version === null ? '–' : String(row.version), 'num');
  const changed = cell(tr, formatAgo(row.changedAt, now));
  changed.title = new Date(row.changedAt).toLocaleString();
  clientsCell(tr, row.kind === 'route' || row.clients?.since != null ? row.clients : undefined);
  cell(tr, formatRate(row.rate), 'num');
  const errors = tr.insertCell();
  if (row.errors === null) errors.textContent = '–';
  else errors.append(...outcomeChips(row.errors, () => true));
  cell(tr, formatMs(row.p99Ms, row.p99Above), 'num');
  const charts = tr.insertCell();
  charts.className = 'charts-cell';
  charts.dataset.col = 'charts';
  if (chartAxis !== undefined && row.history !== undefined) {
    const markers = row.history.changes.map((at) => Date.parse(at));
    const traffic: Series[] = [{ values: row.history.queryRate, className: 'queries' }];
    // A row without errors gets no red line along the bottom of its chart.
    if (row.history.errorRate.some((rate) => rate > 0)) traffic.push({ values: row.history.errorRate, className: 'errors' });
    charts.append(
      sparkline(chartAxis, traffic, markers, ROW_CHART, `${row.table}: queries / s and errors / s`),
      sparkline(chartAxis, [{ values: row.history.p99Ms, className: 'p99' }], markers, ROW_CHART, `${row.table}: p99 latency, ms`),
    );
  }
  return tr;
}

/** "followed 37 of 40 hosts" after a change, "40 hosts" without one. */
function clientsCell(tr: HTMLTableRowElement, clients: ClientCounts | undefined): void {
  const td = tr.insertCell();
  td.dataset.col = 'clients';
  td.className = 'followed';
  if (clients === undefined) {
    td.textContent = '–';
    return;
  }
  const hosts = `${clients.hosts.toLocaleString('en-US')} host${clients.hosts === 1 ? '' : 's'}`;
  if (clients.followed === null || clients.since === null) {
    td.textContent = hosts;
    td.title = 'client hosts that asked for the table in the last hour';
    return;
  }
  const all = clients.followed >= clients.hosts;
  td.append(badge(`followed ${clients.followed.toLocaleString('en-US')} of ${hosts}`, all ? 'ok' : 'warn'));
  td.title = `since the route change at ${new Date(clients.since).toLocaleString()}: of the hosts that asked in the hour before it, those that asked again and were answered by the new cluster`;
}

// ---- charts: SVG sparklines over the history's points, drawn here (no library) ----

const SVG = 'http://www.w3.org/2000/svg';
const ROW_CHART = { width: 76, height: 22 };
const HEAD_CHART = { width: 300, height: 56 };

/** The charts' time axis: the last 10 minutes up to the page's `now`. */
let chartAxis: { doc: StatusHistory; from: number; to: number } | undefined;

function svgEl(tag: string, attributes: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

interface Series {
  values: ReadonlyArray<number | null>;
  className: string;
}

/**
 * One chart: a line per series on a shared scale from 0 to the largest value,
 * over the last 10 minutes; a gap in the points (nobody was looking) or a
 * null value breaks the line. Route changes are dashed vertical lines.
 */
function sparkline(
  axis: NonNullable<typeof chartAxis>,
  series: readonly Series[],
  markers: readonly number[],
  size: { width: number; height: number },
  title: string,
): SVGElement {
  const { width, height } = size;
  const svg = svgEl('svg', { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  svg.append(svgEl('rect', { class: 'frame', x: 0.5, y: 0.5, width: width - 1, height: height - 1, rx: 2 }));
  const label = svgEl('title', {});
  label.textContent = title;
  svg.append(label);
  const times = axis.doc.points.map((point) => Date.parse(point.at));
  const span = Math.max(1, axis.to - axis.from);
  const x = (at: number) => 1 + ((at - axis.from) / span) * (width - 2);
  let top = 0;
  for (const { values } of series) for (const value of values) if (value !== null && value > top) top = value;
  const y = (value: number) => height - 2 - (top > 0 ? (value / top) * (height - 4) : 0);
  const gapMs = axis.doc.step * 1000 * 1.5;
  for (const marker of markers) {
    if (marker < axis.from || marker > axis.to) continue;
    const at = x(marker).toFixed(1);
    svg.append(svgEl('line', { class: 'change', x1: at, x2: at, y1: 1, y2: height - 1 }));
  }
  if (times.length === 0) {
    const empty = svgEl('text', { class: 'empty', x: 4, y: height / 2 + 3 });
    empty.textContent = 'collecting: a point every 10 s while this page is open';
    if (height >= 30) svg.append(empty);
    return svg;
  }
  for (const { values, className } of series) {
    let d = '';
    let drawing = false;
    values.forEach((value, i) => {
      const at = times[i];
      if (value === null || at === undefined || at < axis.from) {
        drawing = false;
        return;
      }
      const previous = times[i - 1];
      if (previous === undefined || at - previous > gapMs) drawing = false;
      d += `${drawing ? 'L' : 'M'}${x(at).toFixed(1)},${y(value).toFixed(1)}`;
      drawing = true;
    });
    if (d !== '') svg.append(svgEl('path', { class: `line ${className}`, d }));
  }
  return svg;
}

function renderTraffic(doc: StatusDocument): void {
  const axis = chartAxis;
  const charts: Array<[string, Series, (value: number | null) => string]> = [
    ['chart-queries', { values: doc.history.points.map((point) => point.queryRate), className: 'queries' }, formatRate],
    ['chart-errors', { values: doc.history.points.map((point) => point.errorRate), className: 'errors' }, formatRate],
    ['chart-p99', { values: doc.history.points.map((point) => point.p99Ms), className: 'p99' }, (value) => formatMs(value)],
  ];
  const markers = doc.history.changes.map((change) => Date.parse(change.at));
  for (const [id, series, format] of charts) {
    const figure = byId(id);
    const now = figure.querySelector('.now');
    if (now !== null) now.textContent = series.values.length === 0 ? '' : format(series.values[series.values.length - 1] ?? null);
    figure.querySelector('svg')?.remove();
    if (axis !== undefined) figure.append(sparkline(axis, [series], markers, HEAD_CHART, figure.querySelector('figcaption')?.textContent ?? ''));
  }
}

function renderFleet(doc: StatusDocument): void {
  const note = byId('fleet-note');
  const table = byId('fleet');
  const fleet = doc.fleet;
  if (fleet === undefined || fleet === null) {
    note.textContent = fleet === null ? 'No fleet (file registry): this instance serves routes from its own file and registers nowhere.' : 'This proxy does not report its fleet.';
    note.hidden = false;
    table.hidden = true;
    byId('fleet-rows').replaceChildren();
    return;
  }
  note.hidden = false;
  note.textContent = `${fleet.instances.length} instance${fleet.instances.length === 1 ? '' : 's'} registered under ${fleet.path}`;
  table.hidden = false;
  const rows = fleet.instances.map((instance: StatusFleetInstance) => {
    const tr = document.createElement('tr');
    tr.dataset.instance = instance.name;
    const name = cell(tr, instance.name, 'mono');
    if (instance.self) name.append(' ', badge('this one', ''));
    cell(tr, instance.listen, 'mono');
    const admin = tr.insertCell();
    const link = adminLink(instance.admin);
    if (link === undefined) admin.textContent = '–';
    else {
      const a = el('a', 'mono', instance.admin ?? '') as HTMLAnchorElement;
      a.href = link;
      admin.append(a);
    }
    const version = tr.insertCell();
    version.append(instance.version === doc.version ? el('span', '', instance.version) : badge(instance.version, 'warn', `this instance runs ${doc.version}`));
    cell(tr, String(instance.pid), 'num');
    const started = cell(tr, formatAgo(instance.startedAt, Date.parse(doc.now)));
    started.title = new Date(instance.startedAt).toLocaleString();
    tr.insertCell().append(instance.ready ? badge('ready', 'ok') : badge('not ready', 'bad'));
    return tr;
  });
  if (rows.length === 0) {
    const empty = document.createElement('tr');
    cell(empty, 'No instance registered.', 'empty').colSpan = 7;
    rows.push(empty);
  }
  byId('fleet-rows').replaceChildren(...rows);
}

/** An instance's status page, from its admin address (`host:port` or a URL); only http(s). */
function adminLink(admin: string | null): string | undefined {
  if (admin === null || admin === '') return undefined;
  try {
    const url = new URL(/^https?:\/\//i.test(admin) ? admin : `http://${admin}/`);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

function metaList(metas: readonly string[], leader: string | null): HTMLElement[] {
  return metas.map((meta) => {
    const node = el('span', meta === leader ? 'meta leader' : 'meta', meta);
    if (meta === leader) node.title = 'leader: the meta that last answered for this cluster';
    return node;
  });
}

function outcomeChips(outcomes: Record<string, number>, isBad: (result: string) => boolean): HTMLElement[] {
  const entries = Object.entries(outcomes).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return [el('span', 'muted', 'none')];
  return entries.map(([result, count]) => {
    const chip = el('span', isBad(result) ? 'chip bad' : 'chip');
    chip.append(`${result} `, el('b', '', count.toLocaleString('en-US')));
    return chip;
  });
}

const GOOD_OUTCOMES = new Set(['ERR_OK', 'ERR_FORWARD_TO_OTHERS', 'cancelled']);

function renderClusters(doc: StatusDocument): void {
  const rows: HTMLTableRowElement[] = [];
  const addMetas = (name: string, tables: string, metas: readonly StatusMeta[], cluster: StatusCluster | undefined) => {
    metas.forEach((meta, i) => {
      const tr = document.createElement('tr');
      tr.dataset.cluster = name;
      if (i === 0) {
        const nameCell = cell(tr, name);
        nameCell.rowSpan = metas.length;
        const count = cell(tr, tables, 'num');
        count.rowSpan = metas.length;
        if (cluster !== undefined && cluster.stale > 0) count.append(' ', badge(`${cluster.stale} stale`, 'warn'));
      }
      tr.insertCell().append(...metaList([meta.address], meta.leader ? meta.address : null));
      tr.insertCell().append(meta.leader ? badge('leader', 'ok') : el('span', 'muted', ''));
      const outcomes = tr.insertCell();
      if (meta.outcomes === null) outcomes.textContent = '–';
      else outcomes.append(...outcomeChips(meta.outcomes, (result) => !GOOD_OUTCOMES.has(result)));
      rows.push(tr);
    });
  };
  for (const cluster of doc.clusters) addMetas(cluster.name, cluster.tables.toLocaleString('en-US'), cluster.metas, cluster);
  if (doc.unroutedMetas.length > 0) addMetas('(no cached route)', '0', doc.unroutedMetas, undefined);
  if (rows.length === 0) {
    const empty = document.createElement('tr');
    cell(empty, 'No cluster yet.', 'empty').colSpan = 5;
    rows.push(empty);
  }
  byId('cluster-rows').replaceChildren(...rows);
}

function renderChanges(doc: StatusDocument): void {
  const rows = doc.changes.map((change: StatusChange) => {
    const tr = document.createElement('tr');
    tr.dataset.table = change.table;
    const time = cell(tr, formatTime(change.at), 'mono');
    time.title = new Date(change.at).toLocaleString();
    cell(tr, change.table, 'mono');
    const from = cell(tr, describeEnd(change.from));
    from.title = change.from.metas.join(', ');
    from.dataset.col = 'from';
    cell(tr, '→', 'arrow');
    const to = cell(tr, describeEnd(change.to));
    to.title = change.to.metas.join(', ');
    to.dataset.col = 'to';
    cell(tr, change.reroutes === null ? '–' : change.reroutes.toLocaleString('en-US'), 'num');
    return tr;
  });
  if (rows.length === 0) {
    const empty = document.createElement('tr');
    cell(empty, 'No route change seen since this proxy was first watched.', 'empty').colSpan = 6;
    rows.push(empty);
  }
  byId('change-rows').replaceChildren(...rows);
}

function render(doc: StatusDocument): void {
  const to = Date.parse(doc.now);
  chartAxis = doc.history === undefined ? undefined : { doc: doc.history, from: to - HISTORY_MS, to };
  renderHeader(doc);
  renderTraffic(doc);
  renderTables(doc);
  renderFleet(doc);
  renderClusters(doc);
  renderChanges(doc);
  document.title = `${doc.ready.ready ? '' : '(not ready) '}meta-proxy · ${doc.instance.host}`;
  document.body.dataset.updated = doc.now;
}

// ---- polling ----------------------------------------------------------------

let timer: ReturnType<typeof setTimeout> | undefined;
let polling = false;
let again = false;

function requestParams(): URLSearchParams {
  return new URLSearchParams({ filter: view.filter, sort: view.sort, size: String(view.size), page: String(view.page) });
}

function schedule(delayMs: number): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = setTimeout(() => void poll(), delayMs);
}

async function poll(): Promise<void> {
  if (polling) {
    again = true;
    return;
  }
  polling = true;
  const live = byId('live');
  const params = requestParams();
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
  try {
    const response = await fetch(`status.json?${params.toString()}`, { cache: 'no-store', signal: abort.signal });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const doc = (await response.json()) as StatusDocument;
    // The filter, sort or page changed while this was on its way: the next answer is the one to show.
    if (requestParams().toString() !== params.toString()) again = true;
    else render(doc);
    live.className = 'live ok';
    byId('live-text').textContent = `live · updated ${formatTime(doc.now)}`;
  } catch (error) {
    live.className = 'live failed';
    const why = error instanceof Error ? error.message : String(error);
    byId('live-text').textContent = `cannot reach the proxy (${why}); retrying every second. The data below may be out of date.`;
  } finally {
    clearTimeout(deadline);
    polling = false;
    if (again) {
      again = false;
      schedule(0);
    } else {
      schedule(POLL_MS);
    }
  }
}

function start(): void {
  readFragment();
  const filter = byId<HTMLInputElement>('filter');
  const sort = byId<HTMLSelectElement>('sort');
  const size = byId<HTMLSelectElement>('size');
  filter.value = view.filter;
  sort.value = view.sort;
  size.value = String(view.size);
  const changed = (resetPage: boolean) => {
    if (resetPage) view.page = 1;
    writeFragment();
    schedule(0);
  };
  let typing: ReturnType<typeof setTimeout> | undefined;
  filter.addEventListener('input', () => {
    view.filter = filter.value;
    if (typing !== undefined) clearTimeout(typing);
    typing = setTimeout(() => changed(true), 150);
  });
  sort.addEventListener('change', () => {
    view.sort = sort.value;
    changed(true);
  });
  size.addEventListener('change', () => {
    view.size = Number(size.value);
    changed(true);
  });
  byId('prev').addEventListener('click', () => {
    view.page = Math.max(1, view.page - 1);
    changed(false);
  });
  byId('next').addEventListener('click', () => {
    view.page += 1;
    changed(false);
  });
  void poll();
}

start();
