// The DPO view (/dpo). A file of its own, served from /dpo.js, so that the page's
// Content-Security-Policy allows scripts from the server only (no 'unsafe-inline').
"use strict";
const $ = (id) => document.getElementById(id);
function token() { return sessionStorage.getItem("comity-token") || ""; }
async function call(path) {
  const r = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (!r.ok) { throw new Error(r.status + " " + (await r.text()).slice(0, 200)); }
  return r;
}
function periods() {
  const now = new Date(), y = now.getUTCFullYear(), q = Math.floor(now.getUTCMonth() / 3) + 1;
  const out = [String(y)];
  for (let k = q; k >= 1; k--) { out.push(y + "-Q" + k); }
  return out;
}
async function openReport(p) {
  $("status").textContent = "Loading " + p + " …";
  try {
    const r = await call("/v1/reports/" + encodeURIComponent(p) + "?format=html&lang=" + $("lang").value);
    $("report").srcdoc = await r.text();
    $("status").textContent = "Report " + p;
  } catch (e) { $("status").textContent = "Report " + p + " failed: " + e.message; }
}
async function load() {
  sessionStorage.setItem("comity-token", $("token").value.trim());
  try {
    const v = await (await call("/v1/audit/verify")).json();
    $("audit").innerHTML = "";
    const s = document.createElement("span");
    s.className = v.verified ? "ok" : "bad";
    s.textContent = v.verified ? "Audit chain verified / 审计链校验通过 (" + v.events + " events)"
                               : "Audit chain BROKEN at event " + v.first_bad_seq + ": " + v.problem;
    $("audit").appendChild(s);
  } catch (e) { $("audit").textContent = "Audit verification failed: " + e.message; return; }
  $("periods").innerHTML = "";
  for (const p of periods()) {
    const a = document.createElement("a");
    a.textContent = p; a.id = "period-" + p; a.onclick = () => openReport(p);
    $("periods").appendChild(a);
  }
  openReport(periods()[0]);
}
$("signin").onclick = load;
$("token").value = token();
