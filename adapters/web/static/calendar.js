// The calendar's waiting room: live, with a chime and a notification.

import { chime } from "./call-controls.js";
import { connectSignaling } from "./signaling.js";

const calendar = document.getElementById("calendar");
const list = document.getElementById("waiting-list");
const empty = document.getElementById("waiting-empty");
const notifyButton = document.getElementById("enable-notifications");
const originalTitle = document.title;
let known = new Set([...list.querySelectorAll("a")].map((link) => link.getAttribute("href")));

function clock(iso) {
  return new Date(iso).toLocaleTimeString("de-DE", {
    hour: "2-digit", minute: "2-digit", timeZone: "Europe/Berlin",
  });
}

function render(waiting) {
  list.replaceChildren(...waiting.map((entry) => {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = entry.url;
    const name = document.createElement("strong");
    name.textContent = entry.patientName;
    link.append(name, ` wartet – ${entry.group ? "Gruppentermin" : "Termin"} ${clock(entry.startsAt)} Uhr`);
    item.append(link);
    return item;
  }));
  empty.hidden = waiting.length > 0;
  document.title = waiting.length ? `(${waiting.length}) Wartezimmer · ${originalTitle}` : originalTitle;

  const current = new Set(waiting.map((entry) => `${entry.url}#${entry.patientId}`));
  const newcomers = [...current].filter((url) => !known.has(url));
  known = current;
  if (newcomers.length) announce();
}

function announce() {
  chime();
  if ("Notification" in window && Notification.permission === "granted") {
    // No names in system notifications: they may show on a locked screen.
    new Notification("Sprechzimmer", { body: "Jemand wartet im Wartezimmer.", tag: "wartezimmer" });
  }
}

if (!("Notification" in window) || Notification.permission !== "default") {
  document.getElementById("notify-hint").hidden = true;
}
notifyButton.addEventListener("click", async () => {
  await Notification.requestPermission();
  document.getElementById("notify-hint").hidden = true;
});

// Something changed for one of this practitioner's appointments: the agenda
// below is fetched again as the server renders it, so its states stay current
// without a reload (and the form above keeps what is being typed).
let refreshing = null;
async function refreshAgenda() {
  const agenda = document.querySelector(".agenda");
  if (!agenda) return;
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser()
    .parseFromString(await response.text(), "text/html")
    .querySelector(".agenda");
  if (fresh) agenda.replaceWith(fresh);
}

connectSignaling(calendar.dataset.feedUrl, {
  onMessage: (message) => {
    if (message.type !== "waiting-room") return;
    render(message.waiting);
    refreshing ??= refreshAgenda().finally(() => { refreshing = null; });
  },
});
