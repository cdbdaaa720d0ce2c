// Live staff notices (web/routes/staffevents.py): the navigation's unread count and a toast per new
// notice, from the server-sent event stream /staff/events. Texts are set with textContent (no HTML).
(() => {
  "use strict";
  const link = document.getElementById("staff-notices");
  if (!link || !window.EventSource) return;
  const badge = link.querySelector(".count");
  const cap = Number(link.dataset.cap || 99);
  let box = null;

  function setCount(n) {
    badge.textContent = n > cap ? cap + "+" : String(n);
    badge.hidden = n === 0;
    link.dataset.unread = String(n);
    link.title = n ? `${n}条未读提醒` : "没有未读提醒";
  }

  function toast(notice) {
    if (!box) {
      box = document.createElement("div");
      box.id = "notice-toasts";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    const item = document.createElement("a");
    item.className = "notice-toast" + (notice.urgent ? " urgent" : "");
    item.href = notice.url;
    const label = document.createElement("strong");
    label.textContent = notice.label;
    const text = document.createElement("span");
    text.textContent = notice.text;
    item.append(label, text);
    box.appendChild(item);
    setTimeout(() => item.remove(), notice.urgent ? 30000 : 12000);
  }

  const source = new EventSource(link.dataset.stream);
  source.addEventListener("count", (e) => setCount(JSON.parse(e.data).unread));
  source.addEventListener("notice", (e) => toast(JSON.parse(e.data)));
  window.addEventListener("pagehide", () => source.close());
})();
