/** The overview's stylesheet (served inline with the page's CSP nonce). */
export const STYLE = `
:root{--bg:#f4f6f9;--card:#fff;--ink:#17202b;--muted:#5d6b7c;--line:#e2e7ee;--ok:#17803d;--ok-bg:#e3f6e9;
--bad:#c0262d;--bad-bg:#fde8e8;--warn:#a45a00;--warn-bg:#fff2dc;--idle:#445266;--idle-bg:#eef1f5;--paid:#2f6fde;--list:#b7c1ce;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header.top{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;align-items:center;gap:10px 22px;padding:10px 22px;
background:#17202b;color:#fff;box-shadow:0 1px 3px rgba(0,0,0,.25)}
header.top h1{font-size:18px;margin:0 8px 0 0;letter-spacing:.02em}
header.top h1 span{font-weight:400;color:#9fb0c4}
header.top nav a{color:#cfe0ff;margin-right:14px;text-decoration:none}
header.top nav a:hover{text-decoration:underline}
#frag-status{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center;margin-left:auto}
.status-item{color:#d8e0ea}.updated{color:#8d9bb0;font-size:12px}
main{padding:18px 22px 40px;max-width:1500px;margin:0 auto}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(210px,1fr));gap:14px;margin-bottom:16px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;border-left:5px solid var(--idle)}
.tile-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.06em}
.tile-value{font-size:30px;font-weight:650;margin:2px 0}
.tile-sub{color:var(--muted)}
.tile-bad{border-left-color:var(--bad)}.tile-bad .tile-value{color:var(--bad)}
.tile-good{border-left-color:var(--ok)}.tile-good .tile-value{color:var(--ok)}
.tile-warn{border-left-color:var(--warn)}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px}
@media (max-width:1100px){.cols,.two-col{grid-template-columns:minmax(0,1fr)!important}}
section.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin-bottom:16px;min-width:0}
section.card>h2{font-size:15px;margin:0 0 10px;display:flex;align-items:center;gap:10px}
section.card h3{font-size:13px;margin:14px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.grid{width:100%;border-collapse:collapse}
.grid th,.grid td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:middle}
.grid thead th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.grid.compact td,.grid.compact th{padding:4px 8px}
.grid td.num,.grid th.num{text-align:right;font-variant-numeric:tabular-nums}
.row-bad{background:var(--bad-bg)}.row-warn{background:var(--warn-bg)}
.mono{font-family:var(--mono);font-size:12.5px;word-break:break-all}
.small{font-size:12px}.muted{color:var(--muted)}
.good{color:var(--ok)}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
.pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:650;letter-spacing:.03em;white-space:nowrap}
.pill-ok{background:var(--ok-bg);color:var(--ok)}
.pill-bad{background:var(--bad);color:#fff}
.pill-warn{background:var(--warn-bg);color:var(--warn)}
.pill-idle{background:var(--idle-bg);color:var(--idle)}
.empty{color:var(--muted);margin:6px 0}.ok-line{color:var(--ok);margin:6px 0;font-weight:600}
.alerts{list-style:none;padding:0;margin:0}.alert{padding:6px 0;border-bottom:1px solid var(--line)}
.banner{padding:10px 12px;border-radius:8px;margin-bottom:10px}.banner-bad{background:var(--bad-bg);color:var(--bad)}
.notice{background:#e8f0fe;color:#1d4ed8;padding:8px 12px;border-radius:8px;margin-bottom:14px}
.flushes{margin:0;padding-left:18px;font-size:12.5px}.flushes li{margin:3px 0}
form.action{display:inline;margin:0}
.btn{font:inherit;font-size:12.5px;font-weight:600;padding:4px 12px;border-radius:6px;border:1px solid #2f6fde;background:#2f6fde;color:#fff;cursor:pointer}
.btn:hover{background:#2459b8}.btn:disabled{opacity:.55;cursor:default}
.btn-danger{background:#fff;color:var(--bad);border-color:var(--bad)}.btn-danger:hover{background:var(--bad-bg)}
.panel-actions{display:flex;gap:12px;align-items:center;margin-bottom:8px}
.costs-head{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center;margin-bottom:6px}
.costs-total{margin:0}
.windows{display:flex;gap:4px}
.window{padding:3px 10px;border-radius:6px;border:1px solid var(--line);text-decoration:none;color:var(--ink)}
.window.current{background:#17202b;color:#fff;border-color:#17202b}
.two-col{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:20px}
.chart{margin:6px 0 10px}.chart figcaption{font-size:12px;color:var(--muted)}
.chart svg{display:block;max-width:640px}.chart-daily svg{max-width:none}.axis{stroke:var(--line);stroke-width:1}
.bar-list{fill:var(--list)}.bar-paid{fill:var(--paid)}.bar-reserved{fill:var(--warn)}.bar-left{fill:var(--line)}
.chart-label{font-size:12px;fill:var(--ink)}.chart-amount{font-size:11px;fill:var(--muted)}.chart-amount.paid{fill:var(--paid);font-weight:600}
.legend{display:flex;gap:18px;font-size:12px;color:var(--muted);margin:4px 0}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-2px}
.swatch-list{background:var(--list)}.swatch-paid{background:var(--paid)}.swatch-reserved{background:var(--warn)}.swatch-left{background:var(--line)}
.stale-data header.top{background:#7a1d22}
footer{color:var(--muted);font-size:12px;text-align:center;padding:10px}
code{font-family:var(--mono);font-size:12.5px}
`;
